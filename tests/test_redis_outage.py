"""Redis (the job queue) stopped and started again under the web app, the CLI and a real
worker: 503 with Retry-After while it is down, reads keep working, and everything resumes
by itself once it is back (no restart of any process)."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
from rq.job import Job, JobStatus

from chatcenter.actions import request_sync
from chatcenter.queues import SYNC_JOB
from tests.helpers import add_seller, overrides, resources, rows, seed_wb, wait_until
from tests.helpers import start_process as start
from tests.redis_server import RedisServer
from tests.test_processes import message_count, stop
from tests.test_queries import make_chat


@pytest.fixture
def own_redis(tmp_path):
    with RedisServer(tmp_path) as server:
        yield server


def enqueueing_requests(app, api, seller_id: int, chat_id: int) -> dict[str, object]:
    """Every route that enqueues a job, by name: name -> a call returning the response."""
    return {
        "sync": lambda: api.post(f"/api/sellers/{seller_id}/sync"),
        "analysis": lambda: api.post(f"/api/chats/{chat_id}/analysis"),
        "reply": lambda: api.post(f"/api/chats/{chat_id}/reply", json={"text": "Здравствуйте!"}),
        "sentry-test worker": lambda: app.test_client().post("/api/health/sentry-test/worker"),
    }


def test_routes_that_enqueue_answer_503_while_redis_is_down_then_work_again(make_app, make_api, own_redis,
                                                                            sentry_receiver):
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(redis_url=own_redis.url, deepseek_api_key="sk-test", debug=True,
                   sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=0.0)
    api = make_api(app)
    seller_id = add_seller(app)
    chat_id = make_chat(app, seller_id, 1, buyer_at=1)
    requests = enqueueing_requests(app, api, seller_id, chat_id)

    own_redis.stop()
    for name, call in requests.items():
        response = call()
        assert response.status_code == 503, (name, response.status_code, response.data)
        assert response.headers["Retry-After"] == "5", name
        assert response.is_json and "job queue is unavailable" in response.get_json()["detail"], name
    # Reads that need no Redis keep working.
    assert api.get("/api/sellers").status_code == 200
    assert api.get(f"/api/chats/{chat_id}").status_code == 200
    assert app.test_client().get("/api/health").status_code == 200
    ready = app.test_client().get("/api/health/ready")
    assert ready.status_code == 503 and ready.get_json()["checks"]["redis"]["ok"] is False
    sentry_sdk.flush(timeout=5)
    assert sentry_receiver.events == []  # an outage is the readiness probe's news, not one event per request

    own_redis.start()  # same app, same connection pool: no restart needed
    assert [requests[name]().status_code for name in requests] == [202, 202, 202, 202]


def test_cli_says_in_one_line_that_the_queue_is_unavailable(make_app, own_redis):
    app = make_app(redis_url=own_redis.url)
    seller_id = add_seller(app)
    own_redis.stop()

    result = app.test_cli_runner().invoke(args=["sync", str(seller_id)])

    assert result.exit_code == 75
    assert "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: ") and "Redis" in line  # what it could not reach


def test_worker_survives_an_outage_mid_sync_and_resumes_by_itself(make_app, job_settings, wb_stub, own_redis):
    settings = replace(job_settings, redis_url=own_redis.url)
    app = make_app(**overrides(settings))
    seed_wb(wb_stub, chats=3, messages_per_chat=2)
    seller_id = add_seller(app)
    wb_stub.delay_next(3.0, path="/api/v1/seller/chats")  # the run is mid-way when Redis goes
    request_sync(resources(app), seller_id)
    worker = start(settings, "worker.py", "sync")
    try:
        assert wait_until(lambda: any(r.path.endswith("/chats") for r in wb_stub.requests), timeout=30)
        own_redis.stop()
        time.sleep(4)  # the job's end and RQ's own bookkeeping both meet a dead Redis
        assert worker.poll() is None, "the worker quit when Redis went away: " + stop(worker)[-3000:]
        own_redis.start()
        # Once its lease lapses the half-run job no longer counts as started: a new sync is taken.
        assert wait_until(lambda: request_sync(resources(app), seller_id).created, timeout=40, interval=0.5)
        assert wait_until(lambda: message_count(app) == 6, timeout=40)
        job = Job.fetch(SYNC_JOB.job_id(seller_id), connection=own_redis.client())
        assert wait_until(lambda: job.get_status() == JobStatus.FINISHED, timeout=20)
        assert worker.poll() is None
    finally:
        output = stop(worker)
    assert "found an unhandled exception, quitting" not in output or "resuming" in output, output
    chats, messages = rows(app)
    assert len(chats) == 3 and len(messages) == 6
