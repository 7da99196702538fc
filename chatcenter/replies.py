"""A reply's way to the buyer: exactly one copy, and the operator's text never lost.

What a failed send means decides what happens next (jobs/reply.py does the I/O):
- certainly not delivered (no connection, DNS, TLS, 429, a refused token, another 4xx
  but moderation's 400): tried again on JOB_RETRY_DELAYS;
- maybe delivered (a timeout after the request left, a 5xx, a worker killed mid-request):
  never sent blindly again. The reply is `unconfirmed` and settled against WB's event feed,
  which echoes every message WB accepted as a `sender: seller` event: an echo of this text
  in this chat at or after the send time makes it `sent` (linked to that message); a feed
  read CONFIRM_POLLS polls after the send time without one means WB did not take it, and
  it is sent again, at most MAX_SENDS times in all;
- refused (WB's 400: its moderation): `failed` with WB's reason.

The database is the record: a reply left `queued`, `sending` or `unconfirmed` without a
live job (Redis restarted empty, a worker killed) is enqueued again by recover_replies,
which the poller runs each pass.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from rq.job import JobStatus
from rq.utils import now as rq_now
from sqlalchemy import select

from chatcenter.models import OPEN_REPLY, Reply, ReplyState, utcnow
from chatcenter.queues import PENDING, REPLY_JOB, enqueue, fetch_job
from chatcenter.wb_events import WBEvent

log = logging.getLogger("chatcenter.replies")

CONFIRM_POLLS = 2  # polls of the feed after the send time before a missing echo counts
MAX_SENDS = 3  # requests that WB may have taken, for one reply
# How far WB's clock (its events' times) may be behind ours: the feed is read from this
# long before the send time.
CLOCK_SLACK = timedelta(seconds=60)
RECORD_GRACE = timedelta(seconds=10)  # a reply just recorded is being enqueued by its request
FAILED_JOB_COOL_OFF = 300.0  # seconds: a job that crashed is not re-run every pass


def confirm_margin(sync_interval_seconds: int) -> timedelta:
    """How long after the send time WB's feed must be read without the echo before the
    reply counts as not taken: two polls' worth."""
    return timedelta(seconds=CONFIRM_POLLS * sync_interval_seconds)


def echo_since(reply: Reply) -> datetime:
    """The earliest time WB's echo of the reply's latest request can carry."""
    return (reply.attempted_at or reply.created_at) - CLOCK_SLACK


def feed_echoes(events: list[WBEvent], wb_chat_id: str, text: str) -> list[WBEvent]:
    """The feed's seller messages in this chat with this text, oldest first."""
    return sorted((e for e in events if e.event_type == "message" and e.sender == "seller"
                   and e.chat_id == wb_chat_id and e.text.strip() == text.strip()),
                  key=lambda e: e.timestamp_ms)


def recover_replies(resources) -> list[int]:
    """Enqueue the sending job of every open reply that has no live job: Redis lost it
    (restarted without its data), its worker died, or an unconfirmed reply is due for its
    next look at WB's feed. Returns the reply ids enqueued."""
    settings, redis = resources.settings, resources.redis
    now = utcnow()
    with resources.db.session() as session:
        rows = session.execute(select(Reply.id, Reply.state, Reply.created_at).where(OPEN_REPLY)
                               .order_by(Reply.id).limit(1000)).all()
    recovered = []
    for reply_id, state, created_at in rows:
        if state == ReplyState.QUEUED and now - created_at < RECORD_GRACE:
            continue
        if not _job_due(fetch_job(redis, REPLY_JOB.job_id(reply_id)), settings.sync_interval_seconds):
            continue
        if enqueue(redis, REPLY_JOB, reply_id, settings.job_retry_delays).created:
            recovered.append(reply_id)
    if recovered:
        log.warning("replies %s had no live job; enqueued again", ", ".join(map(str, recovered)))
    return recovered


def _job_due(job, interval: float) -> bool:
    """May an open reply's job run again? (A "started" one is left to enqueue's dead-run check.)"""
    if job is None:
        return True
    status = job.get_status(refresh=False)
    if status == JobStatus.STARTED:
        return True
    if status in PENDING:
        return False
    ended = (rq_now() - job.ended_at).total_seconds() if job.ended_at else None
    wait = FAILED_JOB_COOL_OFF if status == JobStatus.FAILED else interval
    return ended is None or ended >= wait
