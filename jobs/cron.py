"""The periodic sync: one cron process enqueues a fan-out job; the job enqueues the syncs.

Run exactly one cron process (`python -m jobs.cron`); the fan-out itself is idempotent, so
an extra round enqueues nothing new for sellers whose sync is still queued or running.
"""
from __future__ import annotations

import contextlib
import logging
import sys

from sqlalchemy import select

from chatcenter.models import Seller, SyncState
from chatcenter.queues import DEFAULT, enqueue_sync
from chatcenter.runtime import current

log = logging.getLogger("jobs.cron")

MONITOR_SLUG = "chatcenter-sync-all-sellers"


def _monitor(interval_minutes: int):
    """A Sentry Crons monitor around the fan-out when Sentry is on; nothing otherwise."""
    sdk = sys.modules.get("sentry_sdk")  # imported only when Sentry is configured
    if sdk is None or not sdk.get_client().is_active():
        return contextlib.nullcontext()
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
    runtime = current()
    with _monitor(runtime.settings.sync_interval_minutes):
        with runtime.db.session() as session:
            seller_ids = session.scalars(
                select(Seller.id).where(Seller.active.is_(True), Seller.sync_state != SyncState.AUTH_ERROR)
                .order_by(Seller.id)
            ).all()
        enqueued = [sid for sid in seller_ids if enqueue_sync(runtime, sid).created]
    log.info("periodic sync: %d sellers due, %d syncs enqueued", len(seller_ids), len(enqueued))
    return {"sellers": len(seller_ids), "enqueued": len(enqueued)}


def build_scheduler(runtime):
    from rq.cron import CronScheduler

    # Imported by name: run as `python -m jobs.cron` this module is __main__, which a
    # worker could not import.
    from jobs.cron import sync_all_sellers as fan_out

    scheduler = CronScheduler(connection=runtime.redis, name="chatcenter-cron")
    scheduler.register(fan_out, queue_name=DEFAULT,
                       interval=runtime.settings.sync_interval_minutes * 60,
                       job_timeout=300, result_ttl=3600)
    return scheduler


def main() -> None:
    from chatcenter import configure_logging

    from chatcenter.sentry import init_sentry

    configure_logging()
    runtime = current()
    init_sentry(runtime.settings, "cron")  # errors of this process itself (e.g. Redis down)
    log.info("cron: enqueueing the periodic sync every %d minutes", runtime.settings.sync_interval_minutes)
    build_scheduler(runtime).start()


if __name__ == "__main__":
    main()
