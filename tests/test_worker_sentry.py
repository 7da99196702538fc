"""The real worker process (`python worker.py`) reporting to the local Sentry receiver."""
from __future__ import annotations

from dataclasses import replace

import pytest
import rq
from rq.job import Job

from chatcenter.actions import request_sync
from chatcenter.queues import SYNC_JOB
from tests.helpers import WB_TOKEN, add_seller, overrides, resources, run_worker_process
from tests.sentry_receiver import PUBLIC_KEY


@pytest.fixture
def worker_settings(job_settings, sentry_receiver):
    sentry_receiver.clear()
    return replace(job_settings, sentry_dsn=sentry_receiver.dsn, sentry_release="chatcenter@test", debug=True)


def test_worker_logs_its_sentry_line(worker_settings):
    result = run_worker_process(worker_settings, "default")
    assert result.returncode == 0, result.stderr
    assert "Sentry initialized for RQ jobs (env: test)" in result.stderr


def test_failing_job_with_retries_reports_once_without_arguments(make_app, worker_settings, wb_stub,
                                                                  sentry_receiver, redis_client):
    app = make_app(**overrides(worker_settings))
    seller_id = add_seller(app)
    wb_stub.fail_next(500, count=100)  # WB keeps failing: every attempt fails
    request_sync(resources(app), seller_id)

    result = run_worker_process(worker_settings, "sync")

    assert result.returncode == 0, result.stderr
    job = Job.fetch(SYNC_JOB.job_id(seller_id), connection=redis_client)
    assert job.is_failed
    chats_calls = [r for r in wb_stub.requests if r.path.endswith("/chats")]
    assert len(chats_calls) == 3  # the first attempt and two retries
    events = sentry_receiver.wait_for("event", 1)
    assert len(events) == 1
    event = events[0]
    assert event["tags"]["component"] == "worker"
    assert event["exception"]["values"][-1]["type"] == "WBUnavailable"
    rq_job = event["extra"]["rq-job"]
    assert rq_job["job_id"] == SYNC_JOB.job_id(seller_id)
    assert rq_job["func"] == "jobs.sync.sync_seller_chats"
    assert rq_job["description"] == "jobs.sync.sync_seller_chats"
    assert "args" not in rq_job or rq_job["args"] in ("[Filtered]", None)
    assert "kwargs" not in rq_job or rq_job["kwargs"] in ("[Filtered]", None)
    assert all(WB_TOKEN.encode() not in body and b"eyJhbGci" not in body for body in sentry_receiver.raw_bodies)


def test_unauthorised_sync_reports_once_and_is_not_retried(make_app, worker_settings, sentry_receiver):
    app = make_app(**overrides(worker_settings))
    seller_id = add_seller(app, token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3cm9uZyJ9.d3JvbmctdG9rZW4tc2lnbmF0dXJl")
    request_sync(resources(app), seller_id)

    result = run_worker_process(worker_settings, "sync")

    assert result.returncode == 0, result.stderr
    events = sentry_receiver.wait_for("event", 1)
    assert [e["exception"]["values"][-1]["type"] for e in events] == ["WBAuthError"]
    assert b"d3JvbmctdG9rZW4tc2lnbmF0dXJl" not in b"".join(sentry_receiver.raw_bodies)


def test_worker_test_route_enqueues_a_job_whose_error_reaches_sentry_in_the_request_trace(
        make_app, worker_settings, sentry_receiver, redis_client):
    traced = replace(worker_settings, sentry_traces_sample_rate=1.0)
    app = make_app(**overrides(traced))

    response = app.test_client().post("/api/health/sentry-test/worker")

    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "enqueued"
    import sentry_sdk

    sentry_sdk.flush(timeout=5)
    web_transactions = sentry_receiver.wait_for("transaction", 1)
    web_trace = [t for t in web_transactions if t["transaction"] == "/api/health/sentry-test/worker"][0]
    web_trace_id = web_trace["contexts"]["trace"]["trace_id"]

    result = run_worker_process(traced, "default")

    assert result.returncode == 0, result.stderr
    events = sentry_receiver.wait_for("event", 1)
    assert len(events) == 1
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "WorkerSentryTestError"
    assert event["extra"]["rq-job"]["job_id"] == body["job_id"]
    assert event["tags"]["component"] == "worker"
    assert event["contexts"]["trace"]["trace_id"] == web_trace_id


def test_a_job_enqueued_by_an_unsampled_request_is_in_its_trace_and_not_traced(
        make_app, worker_settings, sentry_receiver, redis_client):
    """An unsampled request has no transaction to send, yet its jobs carry its trace marked
    not sampled, as RqIntegration carries a transaction's: the job's error is in the request's
    trace, and the job is not traced on its own."""
    never = replace(worker_settings, sentry_traces_sample_rate=1e-9)
    app = make_app(**overrides(never))

    response = app.test_client().post("/api/health/sentry-test/worker")

    assert response.status_code == 202
    job = Job.fetch(response.get_json()["job_id"], connection=redis_client)
    trace_id, _span_id, sampled = job.meta["_sentry_trace_headers"]["sentry-trace"].split("-")
    assert sampled == "0"
    result = run_worker_process(never, "default")
    assert result.returncode == 0, result.stderr
    events = sentry_receiver.wait_for("event", 1)
    assert [e["contexts"]["trace"]["trace_id"] for e in events] == [trace_id]
    assert sentry_receiver.transactions == []


def test_calls_to_wb_carry_no_sentry_trace_headers(make_app, worker_settings, wb_stub):
    app = make_app(**overrides(replace(worker_settings, sentry_traces_sample_rate=1.0)))
    seller_id = add_seller(app)

    import sentry_sdk

    from jobs.sync import sync_seller_chats

    with app.app_context(), sentry_sdk.start_transaction(op="queue.task.rq", name="jobs.sync.sync_seller_chats"):
        sync_seller_chats(seller_id)

    assert wb_stub.requests
    for request in wb_stub.requests:
        names = {name.lower() for name in request.headers}
        assert not names & {"sentry-trace", "baggage", "traceparent"}


def test_worker_test_route_is_404_without_debug_and_disabled_without_dsn(make_app):
    assert make_app(debug=False).test_client().post("/api/health/sentry-test/worker").status_code == 404
    response = make_app(debug=True).test_client().post("/api/health/sentry-test/worker")
    assert response.get_json() == {"status": "sentry_disabled",
                                   "message": "Sentry is not configured (SENTRY_DSN is empty)"}


ENQUEUER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def enqueue_failing_job(redis_client, sampled: str):
    from chatcenter.queues import queue

    # What RqIntegration puts in job.meta when a traced request enqueues: its trace.
    meta = {"_sentry_trace_headers": {"sentry-trace": f"{ENQUEUER_TRACE_ID}-00f067aa0ba902b7-{sampled}"}}
    return queue(redis_client, "default").enqueue("jobs.diagnostics.raise_test_error", meta=meta,
                                                  description="jobs.diagnostics.raise_test_error")


@pytest.mark.parametrize("sampled", ["0", "1"], ids=["trace-not-sampled", "trace-sampled"])
def test_a_failed_job_reports_its_details_and_the_enqueuers_trace_whether_traced_or_not(
        worker_settings, sentry_receiver, redis_client, sampled):
    # Not sampled, the work-horse runs the job without sentry-sdk's per-job wrapper
    # (chatcenter/observability/job_sentry.py); the report must not tell the difference.
    job = enqueue_failing_job(redis_client, sampled)

    result = run_worker_process(replace(worker_settings, sentry_traces_sample_rate=1.0), "default")

    assert result.returncode == 0, result.stderr
    [event] = sentry_receiver.wait_for("event", 1)
    assert event["exception"]["values"][-1]["type"] == "WorkerSentryTestError"
    assert event["exception"]["values"][-1]["mechanism"]["type"] == "rq"
    assert event["extra"]["rq-job"]["job_id"] == job.id
    assert event["extra"]["rq-job"]["func"] == "jobs.diagnostics.raise_test_error"
    assert event["transaction"] == "jobs.diagnostics.raise_test_error"
    assert event["contexts"]["trace"]["trace_id"] == ENQUEUER_TRACE_ID
    assert event["tags"]["component"] == "worker"
    assert event["modules"]["rq"] == rq.__version__  # the package list the worker worked out before forking
    if sampled == "1":
        [transaction] = sentry_receiver.wait_for("transaction", 1)
        assert transaction["transaction"] == "jobs.diagnostics.raise_test_error"
        assert transaction["contexts"]["trace"]["trace_id"] == ENQUEUER_TRACE_ID
    else:  # the work-horse flushed before it exited: a transaction would be here by now
        assert sentry_receiver.items("transaction") == []


def test_a_job_that_succeeds_untraced_sends_nothing(worker_settings, sentry_receiver, redis_client):
    from chatcenter.queues import queue

    job = queue(redis_client, "default").enqueue("math.floor", 1.5)

    result = run_worker_process(replace(worker_settings, sentry_traces_sample_rate=0.0), "default")

    assert result.returncode == 0, result.stderr
    assert Job.fetch(job.id, connection=redis_client).return_value() == 1
    assert sentry_receiver.raw_bodies == []


def test_failed_jobs_enqueued_without_a_trace_each_report_in_a_trace_of_their_own(
        worker_settings, sentry_receiver, redis_client):
    from chatcenter.queues import queue

    for _ in range(2):
        queue(redis_client, "default").enqueue("jobs.diagnostics.raise_test_error")

    result = run_worker_process(replace(worker_settings, sentry_traces_sample_rate=0.0), "default")

    assert result.returncode == 0, result.stderr
    events = sentry_receiver.wait_for("event", 2)
    assert len({event["contexts"]["trace"]["trace_id"] for event in events}) == 2
    assert {event["extra"]["rq-job"]["func"] for event in events} == {"jobs.diagnostics.raise_test_error"}


def _transaction_envelopes(receiver) -> list:
    return [r.envelope for r in receiver.received if any(item.type == "transaction" for item in r.envelope.items)]


def test_jobs_enqueued_outside_any_trace_are_traced_at_the_rate_and_report_it(
        worker_settings, sentry_receiver, redis_client):
    """A job enqueued with no trace (by cron, or by a job that is not traced) heads a trace
    of its own. The rate decides which are traced, and each transaction reports that rate
    (Sentry extrapolates counts from it), as one the SDK itself sampled at it."""
    from chatcenter.queues import queue

    for _ in range(60):
        queue(redis_client, "default").enqueue("math.floor", 1.5)

    result = run_worker_process(replace(worker_settings, sentry_traces_sample_rate=0.5), "default")

    assert result.returncode == 0, result.stderr
    envelopes = _transaction_envelopes(sentry_receiver)
    assert 15 <= len(envelopes) <= 45  # 60 x 0.5 = 30
    traces = [envelope.headers["trace"] for envelope in envelopes]
    assert {(t["sample_rate"], t["sampled"]) for t in traces} == {("0.5", "true")}
    assert all(float(t["sample_rand"]) < 0.5 for t in traces)
    assert len({t["trace_id"] for t in traces}) == len(traces)
    transaction = envelopes[0].items[0].payload.json  # as RqIntegration's wrapper made them
    assert (transaction["transaction"], transaction["contexts"]["trace"]["op"]) == ("math.floor", "queue.task.rq")
    assert transaction["contexts"]["trace"]["data"]["messaging.destination.name"] == "chatcenter:default"
    assert transaction["extra"]["rq-job"]["func"] == "math.floor"


def enqueue_a_failing_job_then_fail():
    """A job that enqueues another, as a sync enqueues analyses; both fail, so both report."""
    from rq import get_current_job

    from chatcenter.queues import queue

    queue(get_current_job().connection, "default").enqueue("jobs.diagnostics.raise_test_error")
    raise RuntimeError("the first job failed too")


def test_a_job_enqueued_by_a_traced_job_is_traced_in_its_trace(worker_settings, sentry_receiver, redis_client):
    from chatcenter.queues import queue

    queue(redis_client, "default").enqueue(f"{__name__}.enqueue_a_failing_job_then_fail")

    result = run_worker_process(replace(worker_settings, sentry_traces_sample_rate=1.0), "default")

    assert result.returncode == 0, result.stderr
    events = sentry_receiver.wait_for("event", 2)
    assert [e["exception"]["values"][-1]["type"] for e in events] == ["RuntimeError", "WorkerSentryTestError"]
    assert len({e["contexts"]["trace"]["trace_id"] for e in events}) == 1
    first, second = sorted(sentry_receiver.wait_for("transaction", 2), key=lambda t: t["start_timestamp"])
    assert second["contexts"]["trace"]["parent_span_id"] == first["contexts"]["trace"]["span_id"]
    assert first["contexts"]["trace"]["trace_id"] == second["contexts"]["trace"]["trace_id"]


@pytest.fixture
def hanging_sentry():
    """A Sentry host that accepts connections and never answers."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://{PUBLIC_KEY}@127.0.0.1:{server.getsockname()[1]}/1"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def test_a_hanging_sentry_adds_at_most_2_s_to_a_job(worker_settings, hanging_sentry, redis_client):
    """Each work-horse flushes before it exits (RqIntegration): with Sentry hanging, that
    wait is bounded by shutdown_timeout, not by the transport's 30 s socket timeout."""
    hanging = replace(worker_settings, sentry_dsn=hanging_sentry, sentry_traces_sample_rate=1.0)
    default = rq.Queue("chatcenter:default", connection=redis_client)
    jobs = [default.enqueue("jobs.diagnostics.raise_test_error", label=f"hang {n}") for n in range(3)]

    result = run_worker_process(hanging, "default")

    assert result.returncode == 0, result.stderr
    runs = [Job.fetch(job.id, connection=redis_client) for job in jobs]
    assert all(run.is_failed for run in runs)
    # From one job's end to the next one's start: the horse's flush, its exit and a fork.
    gaps = [(after.started_at - before.ended_at).total_seconds() for before, after in zip(runs, runs[1:])]
    assert all(gap <= 2.0 for gap in gaps), gaps
    assert all(gap >= 0.5 for gap in gaps), gaps  # Sentry did hang: each horse waited for it
