"""The periodic sync: one cron process enqueues a fan-out job; the job enqueues the syncs.

Run exactly one cron process (`python -m jobs.cron`); the fan-out itself is idempotent, so
an extra round enqueues nothing new for sellers whose sync is still queued or running.
"""
from __future__ import annotations

import contextlib
import logging
import math

from sqlalchemy import select

from chatcenter import runtime
from chatcenter.models import Seller, SyncState
from chatcenter.observability.sentry import active_sdk
from chatcenter.queues import DEFAULT, SYNC_JOB, enqueue, queue_key, recover_dead_runs

log = logging.getLogger("jobs.cron")

MONITOR_SLUG = "chatcenter-sync-all-sellers"


def _monitor(interval_seconds: int):
    """A Sentry Crons monitor around the fan-out when Sentry is on; nothing otherwise."""
    sdk = active_sdk()
    if sdk is None:
        return contextlib.nullcontext()
    interval_minutes = max(1, math.ceil(interval_seconds / 60))  # Crons' smallest unit
    return sdk.monitor(
        monitor_slug=MONITOR_SLUG,
        monitor_config={
            "schedule": {"type": "interval", "value": interval_minutes, "unit": "minute"},
            "checkin_margin": max(1, interval_minutes),  # minutes late before "missed"
            "max_runtime": 10,
            "failure_issue_threshold": 1,
        },
    )


def sync_all_sellers() -> dict:
    """Enqueue one sync per active seller whose token WB has not refused."""
    resources = runtime.get()
    settings = resources.settings
    with _monitor(settings.sync_interval_seconds):
        with resources.db.session() as session:
            seller_ids = session.scalars(
                select(Seller.id).where(Seller.active.is_(True), Seller.sync_state != SyncState.AUTH_ERROR)
                .order_by(Seller.id)
            ).all()
        enqueued = [sid for sid in seller_ids
                    if enqueue(resources.redis, SYNC_JOB, sid, settings.job_retry_delays).created]
        recovered = recover_dead_runs(resources.redis, settings.job_retry_delays)  # a crashed worker's jobs
    if recovered:
        log.warning("periodic sync: %d jobs left started by a dead worker enqueued anew: %s",
                    len(recovered), ", ".join(recovered))
    log.info("periodic sync: %d sellers due, %d syncs enqueued", len(seller_ids), len(enqueued))
    return {"sellers": len(seller_ids), "enqueued": len(enqueued)}


def build_scheduler(resources):
    from rq.cron import CronScheduler

    # Imported by name: run as `python -m jobs.cron` this module is __main__, which a
    # worker could not import.
    from jobs.cron import sync_all_sellers as fan_out

    scheduler = CronScheduler(connection=resources.redis, name="chatcenter-cron")
    scheduler.register(fan_out, queue_name=queue_key(DEFAULT), interval=resources.settings.sync_interval_seconds,
                       job_timeout=300, result_ttl=3600)
    return scheduler


def main() -> None:
    from chatcenter import create_app, startup

    app = create_app(component="cron")  # Sentry for errors of this process itself
    with app.app_context():
        resources = runtime.get()
        startup.require_dependencies(resources)
        log.info("cron: enqueueing the periodic sync every %d seconds", resources.settings.sync_interval_seconds)
        build_scheduler(resources).start()


if __name__ == "__main__":
    main()
