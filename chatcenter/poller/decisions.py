"""When to poll a seller's WB event feed: pure decisions, given the time as a number.

The loop (chatcenter/poller/loop.py) asks these functions and does the I/O. Keeping them
free of clocks, Redis and HTTP lets the tests drive them with a fake clock.

A seller is polled every `interval` seconds (SYNC_INTERVAL_SECONDS) on a fixed cadence,
each seller at its own offset within the interval so polls are spread out, not bunched
at the start of a round. A poll is one WB request; only news (events past the seller's
cursor) turns into a sync job. While the seller's sync is queued or running it is not
polled: the sync reads the feed itself. After a WB error the next poll backs off,
doubling up to MAX_BACKOFF (a minute: a transient fault never holds a seller off longer);
when WB (a 429) or our shared per-seller budget says "wait", the poll waits that long and
no longer.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from rq.job import JobStatus

from chatcenter.queues import PENDING

# A seller whose WB calls keep failing is still tried every minute: WB back, the seller is
# fresh again within a minute (issue 28: five minutes of cool-off were too long).
MAX_BACKOFF = 60.0
# A "wait" shorter than this is rounded up, so a seller never spins on a busy budget.
MIN_DEFER = 0.5
# A job that failed for good is not enqueued again by the poller before this (seconds): a
# seller whose syncs keep failing, or a chat DeepSeek keeps refusing, is not a job (and a
# Sentry event) every pass; yet no longer than a minute, as for a failed poll.
FAILED_COOL_OFF = 60.0
# Failed polls in a row before the seller is shown as failing (sellers page, inbox banner):
# one lost request is no news; with the backoff the second comes 2 intervals after the first.
FAILURES_SHOWN = 2
# Spreads the sellers' offsets evenly over the interval whatever their ids (golden ratio).
_SPREAD = 0.6180339887498949


@dataclass(frozen=True)
class Schedule:
    """One seller's polling state: when it is due next, and how many polls failed in a row."""

    due_at: float
    failures: int = 0


class PollOutcome:
    """What one poll found."""

    NOTHING_NEW = "nothing new"
    NEWS = "news"                 # events past the cursor: a sync is due
    FAILED = "failed"             # WB error (5xx, timeout, malformed answer)
    RATE_LIMITED = "rate limited"  # WB's 429 or our shared budget said wait
    REFUSED = "refused"           # 401/403: the seller is paused until its token is replaced
    SLOT_TAKEN = "slot taken"     # polled this interval already (by another poller in a handover)


def first_schedule(seller_id: int, now: float, interval: float) -> Schedule:
    """A seller seen for the first time is due within one interval, at its own offset."""
    return Schedule(due_at=now + (seller_id * _SPREAD % 1.0) * interval)


def is_due(schedule: Schedule, now: float) -> bool:
    return now >= schedule.due_at


def should_poll(schedule: Schedule, now: float, sync_pending: bool) -> bool:
    """Due, and no sync of the seller queued or running (it reads the feed itself)."""
    return is_due(schedule, now) and not sync_pending


def held_back(status: str | None, leased: bool, ended_at: float | None, now: float,
              failure_forgiven: bool = False) -> bool:
    """Is a subject's job (RQ status, its run lease, when it ended) still in the way of a new one?

    Queued, scheduled or running jobs are (a "started" job without its lease is a dead run:
    not in the way, enqueue clears it); a job that failed is, for FAILED_COOL_OFF seconds,
    unless its failure is forgiven (the seller's token was replaced since).
    """
    if status == JobStatus.STARTED:
        return leased
    if status in PENDING:
        return True
    if status == JobStatus.FAILED:
        if failure_forgiven:
            return False
        return ended_at is None or now - ended_at < FAILED_COOL_OFF
    return False


def after_skip(schedule: Schedule, now: float, interval: float) -> Schedule:
    """Skipped because a sync is pending: look again one interval from now."""
    return replace(schedule, due_at=now + interval)


def after_poll(schedule: Schedule, now: float, interval: float, outcome: str,
               wait: float | None = None) -> Schedule:
    """The schedule after a poll that ended in `outcome` (`wait`: seconds WB or the budget asked for)."""
    if outcome in (PollOutcome.NOTHING_NEW, PollOutcome.NEWS):
        # Keep the cadence (due + interval), but never schedule into the past: a poller that
        # fell behind polls each seller once now, not once per missed interval.
        return Schedule(due_at=max(schedule.due_at + interval, now))
    if outcome == PollOutcome.SLOT_TAKEN:  # due again when the slot is free (`wait`: its time left)
        return replace(schedule, due_at=now + (wait or 0.0))
    if outcome == PollOutcome.RATE_LIMITED:
        # Not a failure: the budget is shared with syncs and replies, which come first.
        return replace(schedule, due_at=now + min(MAX_BACKOFF, max(MIN_DEFER, wait or 0.0)))
    failures = schedule.failures + 1
    return Schedule(due_at=now + backoff(failures, interval), failures=failures)


def backoff(failures: int, interval: float) -> float:
    """Seconds before the next poll after `failures` failed polls in a row: 2, 4, 8... intervals."""
    return min(MAX_BACKOFF, interval * 2 ** min(failures, 16))


def sync_due(outcome: str) -> bool:
    """News needs a sync. (A refused token does not: the poller marks the seller `auth_error`
    itself, so no failed job holds the seller back once `sellers set-token` replaced it.)"""
    return outcome == PollOutcome.NEWS


def shown_failing(schedule: Schedule, outcome: str) -> bool:
    """Should this poll's outcome show the seller as failing? A refused token at once."""
    return outcome == PollOutcome.REFUSED or (outcome == PollOutcome.FAILED and schedule.failures >= FAILURES_SHOWN)


def is_good(outcome: str) -> bool:
    """WB answered: whatever was shown as failing is over."""
    return outcome in (PollOutcome.NOTHING_NEW, PollOutcome.NEWS)


def has_news(page: dict) -> bool:
    """A page of WB's event feed read from the seller's cursor holds events we have not stored."""
    return bool(page.get("totalEvents")) and bool(page.get("events"))

