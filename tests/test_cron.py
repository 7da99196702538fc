"""The poller process: runs the poller, reports to a Sentry Crons monitor, stops on SIGTERM."""
from __future__ import annotations

import signal
import threading
from dataclasses import replace

from chatcenter import create_app
from chatcenter.queues import SYNC_JOB, queue
from chatcenter.observability.poller_monitor import MONITOR_SLUG, check_in, monitor_config, report_failed_pass
from chatcenter.poller.loop import TICK, Hooks, Poller
from tests.helpers import add_seller, overrides, resources, seed_wb, start_process, wait_until

MONITOR_CONFIG = {"schedule": {"type": "interval", "value": 1, "unit": "minute"},
                  "checkin_margin": 1, "max_runtime": 10, "failure_issue_threshold": 1}


def test_poller_process_enqueues_the_sync_of_a_seller_with_news_and_stops_on_sigterm(
        job_app, job_settings, wb_stub, redis_client):
    seed_wb(wb_stub, chats=1, messages_per_chat=1)
    seller_id = add_seller(job_app)
    process = start_process(job_settings, "-m", "chatcenter.poller")
    try:
        sync = queue(redis_client, "sync")
        enqueued = wait_until(lambda: [job.id for job in sync.jobs] == [SYNC_JOB.job_id(seller_id)], timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert enqueued, output
    assert process.returncode == 0, output
    assert "every 10 seconds" in output
    assert queue(redis_client, "default").count == 0  # no fan-out job any more: the poller enqueues


def _run_until_check_in(app, receiver) -> list[dict]:
    stop = threading.Event()
    with app.app_context():
        poller = Poller(resources(app), threads=2,
                        hooks=Hooks(check_in=check_in, pass_failed=report_failed_pass))  # as the process does
        thread = threading.Thread(target=poller.run, args=(stop,))
        thread.start()
        try:
            receiver.wait_for("check_in", 1, timeout=20)
            stop.wait(2 * TICK)  # a few more passes: still one check-in
        finally:
            stop.set()
            thread.join(timeout=20)
            poller.close()
    return receiver.check_ins


def test_the_poller_checks_in_once_per_round_not_per_seller(make_app, job_settings, sentry_receiver):
    sentry_receiver.clear()
    app = make_app(**overrides(job_settings, sentry_dsn=sentry_receiver.dsn))
    for n in range(3):
        add_seller(app, f"shop {n}")

    check_ins = _run_until_check_in(app, sentry_receiver)

    assert [(c["monitor_slug"], c["status"]) for c in check_ins] == [(MONITOR_SLUG, "ok")]
    assert check_ins[0]["monitor_config"] == MONITOR_CONFIG == monitor_config()


def test_a_failed_pass_checks_in_as_an_error_and_the_poller_goes_on(job_settings, sentry_receiver, tmp_path):
    sentry_receiver.clear()
    # A database without the schema: every pass fails reading the sellers.
    app = create_app(replace(job_settings, sentry_dsn=sentry_receiver.dsn,
                             database_url=f"sqlite:///{tmp_path / 'empty.db'}"), component="poller")
    try:
        check_ins = _run_until_check_in(app, sentry_receiver)
    finally:
        resources(app).close()

    assert [c["status"] for c in check_ins] == ["error"]
    [failure] = sentry_receiver.wait_for("event", 1)  # the failure itself, once
    assert failure["tags"]["component"] == "poller"
