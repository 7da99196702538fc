"""No DEEPSEEK_API_KEY: analysis is off everywhere, said once and plainly. A real worker
syncs a seller's chats and enqueues no analysis, Sentry hears nothing, `flask analyze` and
the API answer "analysis is off: set DEEPSEEK_API_KEY"."""
from __future__ import annotations

from dataclasses import replace

from chatcenter.actions import request_sync
from chatcenter.queues import queue
from tests.helpers import add_seller, overrides, resources, run_worker_process, seed_wb
from tests.test_processes import message_count

OFF = "analysis is off: set DEEPSEEK_API_KEY"


def test_a_worker_syncing_chats_without_a_key_enqueues_no_analysis_and_reports_nothing(
        make_app, job_settings, wb_stub, sentry_receiver, redis_client):
    sentry_receiver.clear()
    settings = replace(job_settings, deepseek_api_key="", sentry_dsn=sentry_receiver.dsn,
                       sentry_traces_sample_rate=0.0)
    app = make_app(**overrides(settings, sentry_dsn=""))  # Sentry only in the worker
    seed_wb(wb_stub, chats=6, messages_per_chat=3)  # 6 pages of 3: the sync says it once, not per page
    request_sync(resources(app), add_seller(app))

    result = run_worker_process(settings, "sync", "analysis")

    assert result.returncode == 0, result.stderr
    assert message_count(app) == 18
    assert len(queue(redis_client, "analysis")) == 0
    assert queue(redis_client, "analysis").failed_job_registry.count == 0
    assert result.stderr.count("analysis is off") == 2  # the worker at start, the sync once
    sentry_receiver.wait_for("event", 1, timeout=2)
    assert sentry_receiver.events == []


def test_flask_analyze_and_the_api_say_analysis_is_off(make_app, make_api, redis_client):
    from tests.test_queries import make_chat

    app = make_app(deepseek_api_key="")
    chat_id = make_chat(app, add_seller(app), 1, buyer_at=1)
    runner = app.test_cli_runner()
    for args in (["analyze", str(chat_id)], ["analyze", str(chat_id), "--now"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines() == [f"error: {OFF} to enable it"]

    response = make_api(app).post(f"/api/chats/{chat_id}/analysis")
    assert (response.status_code, response.get_json()["detail"]) == (409, f"{OFF} to enable it")
    assert len(queue(redis_client, "analysis")) == 0
