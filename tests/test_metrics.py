"""GET /metrics: scraped and parsed with prometheus-client's own parser after real work done
by real worker and poller processes against the WB and DeepSeek stubs."""
from __future__ import annotations

import signal
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatcenter.actions import request_sync
from chatcenter.models import Seller, utcnow
from tests.helpers import add_seller, overrides, resources, run_worker_process, seed_wb, start_process, wait_until
from tests.stubs.deepseek_stub import DEFAULT_USAGE

TOKEN = "metrics-token-0123456789abcdef"


def scrape(client, token: str | None = None) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of one scrape."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before, after, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_a_sync_and_its_analyses_move_the_counters_by_exactly_what_happened(
        job_app, job_settings, wb_stub, deepseek_stub):
    client = job_app.test_client()
    seed_wb(wb_stub, chats=2, messages_per_chat=3)  # each chat ends with the buyer's message
    seller_id = add_seller(job_app)
    before = scrape(client)
    assert value(before, "chatcenter_chats_awaiting_reply", seller_id=str(seller_id)) == 0

    request_sync(resources(job_app), seller_id)
    after_enqueue = scrape(client)
    assert value(after_enqueue, "chatcenter_queue_jobs", queue="sync", state="queued") == 1

    done = run_worker_process(job_settings, "sync", "analysis")
    assert done.returncode == 0, done.stderr[-2000:]
    after = scrape(client)

    seller = str(seller_id)
    assert moved(before, after, "chatcenter_messages_ingested_total", seller_id=seller) == 6
    assert moved(before, after, "chatcenter_message_freshness_seconds_count") == 6
    assert moved(before, after, "chatcenter_message_freshness_seconds_bucket", le="+Inf") == 6
    wb_paths = Counter(r.path.rsplit("/", 1)[-1] for r in wb_stub.requests)
    assert moved(before, after, "chatcenter_wb_requests_total", endpoint="events", status="200") == wb_paths["events"]
    assert moved(before, after, "chatcenter_wb_requests_total", endpoint="chats", status="200") == wb_paths["chats"]
    assert moved(before, after, "chatcenter_wb_request_seconds_count", endpoint="events") == wb_paths["events"]
    analyses = len(deepseek_stub.requests)
    assert analyses == 2
    assert moved(before, after, "chatcenter_deepseek_requests_total", status="200") == analyses
    assert moved(before, after, "chatcenter_deepseek_tokens_total", kind="prompt") == \
        analyses * DEFAULT_USAGE["prompt_tokens"]
    assert moved(before, after, "chatcenter_deepseek_tokens_total", kind="completion") == \
        analyses * DEFAULT_USAGE["completion_tokens"]
    assert moved(before, after, "chatcenter_jobs_total", queue="sync", outcome="succeeded") == 1
    assert moved(before, after, "chatcenter_jobs_total", queue="analysis", outcome="succeeded") == 2
    assert value(after, "chatcenter_queue_jobs", queue="sync", state="queued") == 0
    assert value(after, "chatcenter_chats_awaiting_reply", seller_id=seller) == 2


def test_wb_failures_count_as_their_status_and_failed_jobs_as_retried_then_failed(
        make_app, job_settings, wb_stub):
    app = make_app(**overrides(job_settings, job_retry_delays=(0,)))
    client = app.test_client()
    seller_id = add_seller(app)
    wb_stub.fail_next(503, count=20)
    before = scrape(client)
    request_sync(resources(app), seller_id)
    run_worker_process(replace(job_settings, job_retry_delays=(0,)), "sync")
    after = scrape(client)
    assert moved(before, after, "chatcenter_wb_requests_total", endpoint="chats", status="503") >= 2
    assert moved(before, after, "chatcenter_jobs_total", queue="sync", outcome="retried") == 1
    assert moved(before, after, "chatcenter_jobs_total", queue="sync", outcome="failed") == 1
    assert value(after, "chatcenter_queue_jobs", queue="sync", state="failed") == 1


def test_the_poll_lag_follows_the_real_poller(job_app, job_settings, wb_stub):
    client = job_app.test_client()
    seller_id = add_seller(job_app)
    with resources(job_app).db.session() as session:  # a seller waiting for an hour
        session.get(Seller, seller_id).created_at = utcnow() - timedelta(hours=1)
    assert value(scrape(client), "chatcenter_poll_lag_seconds") >= 3600

    poller = start_process(replace(job_settings, sync_interval_seconds=2), "-m", "chatcenter.poller")
    try:
        polled = wait_until(lambda: value(scrape(client), "chatcenter_poll_lag_seconds") < 10, timeout=30)
    finally:
        poller.send_signal(signal.SIGTERM)
        output, _ = poller.communicate(timeout=30)
    assert polled, output
    assert any(r.path.endswith("/events") for r in wb_stub.requests)


@pytest.mark.parametrize("header, status", [
    (None, 401),
    ("Bearer wrong-token-0123456789abcdef", 401),
    (f"Basic {TOKEN}", 401),
    (f"Bearer {TOKEN}", 200),
])
def test_with_a_token_set_a_scrape_needs_it(make_app, header, status):
    app = make_app(metrics_token=TOKEN)
    response = app.test_client().get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == status
    if status == 401:
        assert response.get_json() == {"detail": "Metrics need Authorization: Bearer <METRICS_TOKEN>"}
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert TOKEN not in response.get_data(as_text=True)


def test_every_family_the_dashboard_uses_is_in_an_empty_scrape(client):
    text = client.get("/metrics").get_data(as_text=True)
    families = {f.name for f in text_string_to_metric_families(text)}
    assert {
        "chatcenter_messages_ingested", "chatcenter_message_freshness_seconds", "chatcenter_wb_requests",
        "chatcenter_wb_request_seconds", "chatcenter_deepseek_requests", "chatcenter_deepseek_tokens",
        "chatcenter_jobs", "chatcenter_queue_jobs", "chatcenter_poll_lag_seconds",
        "chatcenter_chats_awaiting_reply", "chatcenter_replies",
    } <= families


def test_a_redis_outage_answers_503_not_500(make_app):
    app = make_app(redis_url="redis://127.0.0.1:1/0")
    response = app.test_client().get("/metrics")
    assert response.status_code == 503
    assert response.headers["Retry-After"]



def test_the_grafana_dashboard_asks_only_for_series_a_scrape_has(client):
    import json
    import re

    from chatcenter.config import PROJECT_ROOT

    dashboard = json.loads((PROJECT_ROOT / "deploy" / "grafana" / "chatcenter-dashboard.json").read_text())
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"chatcenter_[a-z_]+", target["expr"])}
    text = client.get("/metrics").get_data(as_text=True)
    declared = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    series = {f"{name}{suffix}" for name in declared for suffix in ("", "_total", "_bucket", "_sum", "_count")}
    assert asked and asked <= series, asked - series


def test_replies_count_each_state_they_reach(job_app, job_settings, make_api, wb_stub):
    from tests.stubs.wb_stub import MESSAGE_PATH, problem
    from tests.test_reply_job import TEXT

    client = job_app.test_client()
    seller_id = add_seller(job_app)
    seed_wb(wb_stub, chats=1)
    request_sync(resources(job_app), seller_id)
    assert run_worker_process(job_settings, "sync").returncode == 0
    chat_id = make_api(job_app).get("/api/chats").get_json()["chats"][0]["id"]
    api = make_api(job_app, "replies")
    before = scrape(client)

    wb_stub.accept_then_fail_next(504)  # WB takes it, its gateway times out: unconfirmed, then sent
    api.post(f"/api/chats/{chat_id}/reply", json={"text": TEXT})
    assert run_worker_process(job_settings, "reply").returncode == 0
    wb_stub.fail_next(400, path=MESSAGE_PATH, body=problem(400, "message contains forbidden words", "bad request"))
    api.post(f"/api/chats/{chat_id}/reply", json={"text": "Второй ответ, который WB не примет."})
    assert run_worker_process(job_settings, "reply").returncode == 0
    after = scrape(client)

    assert wb_stub.delivered(TEXT) == 1
    assert moved(before, after, "chatcenter_replies_total", state="unconfirmed") == 1
    assert moved(before, after, "chatcenter_replies_total", state="sent") == 1
    assert moved(before, after, "chatcenter_replies_total", state="failed") == 1
    assert moved(before, after, "chatcenter_wb_requests_total", endpoint="message", status="504") == 1
    assert moved(before, after, "chatcenter_wb_requests_total", endpoint="message", status="400") == 1
