"""The periodic recovery: what no one will ask for again, put back on track.

One poller of the deployment runs these steps once per SYNC_INTERVAL_SECONDS (the turn is a
Redis key, chatcenter/poller/membership.py). Each step reads the database or Redis, repairs
what a crash or an outage left behind, and returns a line for the log (None: nothing to say).
Add a step by writing a function of the process's Resources and listing it in STEPS.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import select, update

from chatcenter.models import Chat, Seller, SyncState
from chatcenter.queues import ANALYSIS_JOB, SYNC_JOB, enqueue, recover_dead_runs
from chatcenter.replies import recover_replies

log = logging.getLogger("chatcenter.poller")

DUE_ANALYSES_PER_TURN = 1000
CUT_SYNC = "the last sync was cut short (database or worker unavailable); the next one continues"


def requeue_dead_runs(resources) -> str | None:
    """Jobs a killed worker left "started" (a reply nobody asks for again)."""
    recovered = recover_dead_runs(resources.redis, resources.settings.job_retry_delays)
    if recovered:
        log.warning("poller recovery: %d jobs left started by a dead worker enqueued anew: %s",
                    len(recovered), ", ".join(recovered))
    return None


def enqueue_due_analyses(resources) -> str | None:
    """A message that arrived while its chat's analysis ran (that run did not cover it, and
    the sync could not enqueue a second one) gets exactly one more, covering the burst."""
    from chatcenter.poller.loop import held_back_subjects

    settings = resources.settings
    if not settings.analysis_enabled:
        return None
    with resources.db.session() as session:
        due = session.scalars(select(Chat.id).where(Chat.analysis_due.is_(True)).order_by(Chat.id)
                              .limit(DUE_ANALYSES_PER_TURN)).all()
    pending = held_back_subjects(resources.redis, ANALYSIS_JOB, due)
    enqueued = sum(enqueue(resources.redis, ANALYSIS_JOB, chat_id, settings.job_retry_delays).created
                   for chat_id in due if chat_id not in pending)
    return f"{enqueued} due analyses enqueued" if enqueued else None


def settle_cut_syncs(resources) -> str | None:
    """A seller left `running` by a sync that could not record its end (the database went away
    mid-run, the worker was killed): no sync of it is pending, so say it ended, in error."""
    from chatcenter.poller.loop import job_states

    with resources.db.session() as session:
        running = session.scalars(select(Seller.id).where(Seller.sync_state == SyncState.RUNNING)).all()
    if not running:
        return None
    states = job_states(resources.redis, SYNC_JOB, running)
    # A run takes its lease before it marks the seller running: without a lease, and not
    # waiting in a queue, no run is going to record an end.
    cut = [sid for sid, s in states.items() if not s.leased and s.status not in ("queued", "scheduled", "deferred")]
    if not cut:
        return None
    with resources.db.session() as session:
        settled = session.execute(
            update(Seller).where(Seller.id.in_(cut), Seller.sync_state == SyncState.RUNNING)
            .values(sync_state=SyncState.ERROR, last_error=CUT_SYNC).execution_options(synchronize_session=False)
        ).rowcount
    return f"{settled} sellers left running by a cut sync marked as failed" if settled else None


def requeue_orphaned_replies(resources) -> str | None:
    """Replies queued, sending or unconfirmed with no live job (Redis lost it, or an
    unconfirmed one is due a look at WB's feed): enqueued again."""
    recover_replies(resources)
    return None


STEPS = (requeue_dead_runs, enqueue_due_analyses, settle_cut_syncs, requeue_orphaned_replies)


def run(resources) -> None:
    """Each step in turn; one failing (Redis or the database away) does not stop the others."""
    for step in STEPS:
        started = time.monotonic()
        try:
            said = step(resources)
        except Exception as exc:  # noqa: BLE001 - the next turn tries again
            log.warning("poller recovery: %s failed (%s)", step.__name__, type(exc).__name__)
            continue
        if said:
            log.info("poller recovery: %s (%.0f ms)", said, 1000 * (time.monotonic() - started))
