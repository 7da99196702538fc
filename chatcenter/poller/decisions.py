"""When to poll a seller's WB event feed: pure decisions, given the time as a number.

The poller process (jobs/poller.py) asks these functions and does the I/O. Keeping them
free of clocks, Redis and HTTP lets the tests drive them with a fake clock.

A seller is polled every `interval` seconds (SYNC_INTERVAL_SECONDS) on a fixed cadence,
each seller at its own offset within the interval so polls are spread out, not bunched
at the start of a round. A poll is one WB request; only news (events past the seller's
cursor) turns into a sync job. While the seller's sync is queued or running it is not
polled: the sync reads the feed itself. After a WB error the next poll backs off,
doubling up to MAX_BACKOFF; when WB (a 429) or our shared per-seller budget says "wait",
the poll waits that long and no longer.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from rq.job import JobStatus

from chatcenter.queues import PENDING

# Five minutes: a seller whose WB calls keep failing is still tried now and then.
MAX_BACKOFF = 300.0
# A "wait" shorter than this is rounded up, so a seller never spins on a busy budget.
MIN_DEFER = 0.5
# A job that failed for good is not enqueued again by the poller before this (seconds): a
# seller whose syncs keep failing, or a chat DeepSeek keeps refusing, is not a job (and a
# Sentry event) every pass.
FAILED_COOL_OFF = 300.0
# Spreads the sellers' offsets evenly over the interval whatever their ids (golden ratio).
_SPREAD = 0.6180339887498949


@dataclass(frozen=True)
class Schedule:
    """One seller's polling state: when it is due next, and how many polls failed in a row."""

    due_at: float
    failures: int = 0


class Outcome:
    """What one poll found."""

    NOTHING_NEW = "nothing new"
    NEWS = "news"                 # events past the cursor: a sync is due
    FAILED = "failed"             # WB error (5xx, timeout, malformed answer)
    RATE_LIMITED = "rate limited"  # WB's 429 or our shared budget said wait
    REFUSED = "refused"           # 401/403: the sync marks the seller and stops


def first_schedule(seller_id: int, now: float, interval: float) -> Schedule:
    """A seller seen for the first time is due within one interval, at its own offset."""
    return Schedule(due_at=now + (seller_id * _SPREAD % 1.0) * interval)


def is_due(schedule: Schedule, now: float) -> bool:
    return now >= schedule.due_at


def should_poll(schedule: Schedule, now: float, sync_pending: bool) -> bool:
    """Due, and no sync of the seller queued or running (it reads the feed itself)."""
    return is_due(schedule, now) and not sync_pending


def held_back(status: str | None, leased: bool, ended_at: float | None, now: float) -> bool:
    """Is a subject's job (RQ status, its run lease, when it ended) still in the way of a new one?

    Queued, scheduled or running jobs are (a "started" job without its lease is a dead run:
    not in the way, enqueue clears it); a job that failed is, for FAILED_COOL_OFF seconds.
    """
    if status == JobStatus.STARTED:
        return leased
    if status in PENDING:
        return True
    if status == JobStatus.FAILED:
        return ended_at is None or now - ended_at < FAILED_COOL_OFF
    return False


def after_skip(schedule: Schedule, now: float, interval: float) -> Schedule:
    """Skipped because a sync is pending: look again one interval from now."""
    return replace(schedule, due_at=now + interval)


def after_poll(schedule: Schedule, now: float, interval: float, outcome: str,
               wait: float | None = None) -> Schedule:
    """The schedule after a poll that ended in `outcome` (`wait`: seconds WB or the budget asked for)."""
    if outcome in (Outcome.NOTHING_NEW, Outcome.NEWS):
        # Keep the cadence (due + interval), but never schedule into the past: a poller that
        # fell behind polls each seller once now, not once per missed interval.
        return Schedule(due_at=max(schedule.due_at + interval, now))
    if outcome == Outcome.RATE_LIMITED:
        # Not a failure: the budget is shared with syncs and replies, which come first.
        return replace(schedule, due_at=now + min(MAX_BACKOFF, max(MIN_DEFER, wait or 0.0)))
    failures = schedule.failures + 1
    return Schedule(due_at=now + backoff(failures, interval), failures=failures)


def backoff(failures: int, interval: float) -> float:
    """Seconds before the next poll after `failures` failed polls in a row: 2, 4, 8... intervals."""
    return min(MAX_BACKOFF, interval * 2 ** min(failures, 16))


def sync_due(outcome: str) -> bool:
    """News needs a sync; so does a refused token (the sync marks the seller `auth_error`)."""
    return outcome in (Outcome.NEWS, Outcome.REFUSED)


def has_news(page: dict) -> bool:
    """A page of WB's event feed read from the seller's cursor holds events we have not stored."""
    return bool(page.get("totalEvents")) and bool(page.get("events"))

