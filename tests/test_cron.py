"""The periodic sync: the fan-out job, its Sentry Crons monitor and the cron process."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

from chatcenter.config import PROJECT_ROOT
from chatcenter.models import Seller, SyncState
from chatcenter.queues import queue
from jobs.cron import MONITOR_SLUG, build_scheduler, sync_all_sellers
from tests.helpers import add_seller, overrides, settings_env


def test_fan_out_enqueues_one_sync_per_active_seller(job_app, redis_client):
    active = add_seller(job_app, "active")
    refused = add_seller(job_app, "refused token")
    paused = add_seller(job_app, "inactive")
    with job_app.extensions["chatcenter"].db.session() as session:
        session.get(Seller, refused).sync_state = SyncState.AUTH_ERROR
        session.get(Seller, paused).active = False

    assert sync_all_sellers() == {"sellers": 1, "enqueued": 1}
    assert [job.args for job in queue(redis_client, "sync").jobs] == [(active,)]
    # The next round while that sync still waits adds nothing.
    assert sync_all_sellers() == {"sellers": 1, "enqueued": 0}


def test_fan_out_reports_to_a_sentry_crons_monitor(make_app, job_settings, sentry_receiver):
    import sentry_sdk

    sentry_receiver.clear()
    app = make_app(**overrides(job_settings, sentry_dsn=sentry_receiver.dsn))
    add_seller(app)

    with app.app_context():
        sync_all_sellers()
    sentry_sdk.flush(timeout=5)

    check_ins = sentry_receiver.wait_for("check_in", 2)
    assert [c["status"] for c in check_ins] == ["in_progress", "ok"]
    assert {c["monitor_slug"] for c in check_ins} == {MONITOR_SLUG}
    # Rounds every 10 s; Crons' smallest unit is the minute.
    assert check_ins[0]["monitor_config"]["schedule"] == {"type": "interval", "value": 1, "unit": "minute"}


def test_scheduler_runs_the_fan_out_at_the_configured_interval(job_app):
    scheduler = build_scheduler(job_app.extensions["chatcenter"])
    [cron_job] = scheduler.get_jobs()
    assert cron_job.func is sync_all_sellers
    assert cron_job.interval == 10
    assert cron_job.queue_name == "chatcenter:default"


def test_cron_process_enqueues_a_round_at_start_and_stops_on_sigterm(job_app, job_settings, redis_client):
    process = subprocess.Popen([sys.executable, "-m", "jobs.cron"], cwd=PROJECT_ROOT,
                               env=settings_env(job_settings), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        default = queue(redis_client, "default")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not default.jobs:
            time.sleep(0.1)
        assert [job.func_name for job in default.jobs] == ["jobs.cron.sync_all_sellers"]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "every 10 seconds" in output
