"""The poller's loop: keeps its share of the active sellers fresh.

Every SYNC_INTERVAL_SECONDS each active seller (not `auth_error`) is polled by exactly one
of the live pollers (chatcenter/poller/membership.py): one WB request, `GET events` from
the seller's stored cursor (chatcenter/poller/feed.py), on a small thread pool. An empty answer costs nothing more: no
database write, no job. Events past the cursor enqueue the seller's sync (idempotent per
seller). A seller whose sync is queued or running is not polled. The decisions (when,
backoff, budget) live in chatcenter/poller/decisions.py; this module does the I/O.

Polls take WB slots from the same per-seller Redis budget as syncs and replies
(the limiter WBClient.for_seller uses), but never wait for one: when the budget is used up the poll moves
aside and the seller is polled once a slot is free.

Polls that keep failing are written on the seller (poll_error, poll_failing_since) for the
sellers page and the inbox banner, and cleared by the first good poll; a refused token
marks the seller `auth_error` (paused until `flask sellers set-token`). Once per interval
one poller of the deployment runs the periodic recovery (chatcenter/poller/recovery.py).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from redis.exceptions import RedisError
from rq.job import Job
from rq.utils import utcparse
from sqlalchemy import select, update

from chatcenter.clients.wb import token_problem
from chatcenter.leases import lease_key
from chatcenter.models import Seller, SyncState
from chatcenter.poller import recovery
from chatcenter.poller.feed import REFUSED, FeedProbe
from chatcenter.poller.decisions import (
    PollOutcome, after_poll, after_skip, first_schedule, held_back, is_due, is_good, shown_failing, sync_due,
)
from chatcenter.poller.membership import Membership, new_poller_id
from chatcenter.queues import SYNC_JOB, JobKind, enqueue

log = logging.getLogger("chatcenter.poller")

POLL_THREADS = 16  # polls are I/O: 1,000 sellers every 5 s is ~200 a second, a few ms each
TICK = 0.5         # the loop's longest step: it wakes earlier when a seller is due sooner
MIN_STEP = 0.02    # and never spins faster than this
# The seller list (tokens, cursors, states) is read again this often: a replaced token or a
# new seller is polled within it; each poll in between costs no database read.
SELLERS_EVERY = 2.0
SUMMARY_EVERY = 60.0
CHECK_IN_EVERY = 60.0


@dataclass(frozen=True)
class SellerFeed:
    id: int
    token: str = field(repr=False)
    cursor: int | None
    state: str
    failing: bool  # shown as failing (poll_failing_since is set)

    @property
    def pollable(self) -> bool:
        return self.state != SyncState.AUTH_ERROR


@dataclass
class Hooks:
    """What the process entry wires in: reporting stays out of the loop (no Sentry here)."""

    check_in: Callable[[bool], None] = lambda ok: None           # once a minute: all passes ok?
    pass_failed: Callable[[BaseException], None] = lambda exc: None


@dataclass(frozen=True)
class JobState:
    status: str | None
    leased: bool
    ended_at: float | None


def job_states(redis, kind: JobKind, subject_ids) -> dict[int, JobState]:
    """The RQ status, run lease and end time of each subject's `kind` job, in one round trip."""
    ids = list(subject_ids)
    if not ids:
        return {}
    pipe = redis.pipeline(transaction=False)
    for subject_id in ids:
        job_id = kind.job_id(subject_id)
        pipe.hmget(Job.key_for(job_id), "status", "ended_at")
        pipe.exists(lease_key(job_id))
    answers = pipe.execute()
    states = {}
    for subject_id, (status, ended), leased in zip(ids, answers[0::2], answers[1::2]):
        states[subject_id] = JobState(status.decode() if status else None, bool(leased),
                                      utcparse(ended.decode()).timestamp() if ended else None)
    return states


def held_back_subjects(redis, kind: JobKind, subject_ids, forgiven=frozenset()) -> set[int]:
    """The subjects whose `kind` job is pending or failed lately (decisions.held_back)."""
    now = time.time()
    return {sid for sid, s in job_states(redis, kind, subject_ids).items()
            if held_back(s.status, s.leased, s.ended_at, now, failure_forgiven=sid in forgiven)}


class Poller:
    def __init__(self, resources, *, threads: int = POLL_THREADS, clock=time.monotonic,
                 membership: Membership | None = None, hooks: Hooks | None = None):
        self.resources = resources
        self.interval = float(resources.settings.sync_interval_seconds)
        self.clock = clock
        self.membership = membership or Membership(resources.redis, new_poller_id(), self.interval)
        self.hooks = hooks or Hooks()
        self.schedules: dict = {}
        self.in_flight: dict[int, Future] = {}
        self.probe = FeedProbe(resources.settings.wb_api_base_url, resources.redis, threads)
        self.counts: Counter = Counter()
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="poll")
        self.sellers: dict[int, SellerFeed] = {}
        self._sellers_at: float | None = None   # clock() of the last read of the seller list
        self._sellers_read_at = 0.0             # time.time() of it: a sync ended later moved a cursor
        self._share: set[int] = set()
        self._share_of: tuple | None = None     # (members, seller ids) the share was computed for
        self._failing_since: dict[int, datetime] = {}  # failed polls in a row: since when (not shown yet)
        self._forgiven: set[int] = set()        # token replaced: a failed sync no longer holds it back
        self._polled_from: dict[int, int | None] = {}  # the cursor each poll in flight reads from
        self._sync_from: dict[int, int | None] = {}    # news found from this cursor: a sync was asked for
        self._due_now: set[int] = set()         # back from auth_error with a new token: poll at once
        self._said_bad_token: set[int] = set()
        self._recovery_at = 0.0
        self.last_poll_at: float | None = None

    @property
    def poller_id(self) -> str:
        return self.membership.poller_id

    # ---- one pass -----------------------------------------------------------------

    def tick(self) -> None:
        """Beat, harvest finished polls, start the due ones (each claims its slot), run the recovery when due."""
        now = self.clock()
        self._harvest(now)
        try:
            beaten = self.membership.beat_if_due(now)
        except RedisError:
            beaten = False  # alive() says whether we may go on: until our key surely lapsed, we may
        if not self.membership.alive(now):
            self._hold_nothing()  # Redis away long enough for the others to take our sellers
            raise RedisUnavailable()
        self._read_sellers(now)
        share = self._current_share()
        if beaten:
            self.membership.publish(len(share), self.last_poll_at)
        for seller_id in [sid for sid in self.schedules if sid not in share]:
            del self.schedules[seller_id]  # another poller's now (or gone, or paused)
        for seller_id in share:
            if seller_id not in self.schedules:
                at_once = seller_id in self._due_now
                self._due_now.discard(seller_id)
                self.schedules[seller_id] = first_schedule(seller_id, now, 0.0 if at_once else self.interval)
        due = [sid for sid in share if sid not in self.in_flight and is_due(self.schedules[sid], now)]
        if due:
            self._start_polls(now, due)
        if now >= self._recovery_at:
            self._recovery_at = now + self.interval / 2
            if self.membership.take_recovery_turn():  # one poller of the deployment per interval
                recovery.run(self.resources)

    def _start_polls(self, now: float, due: list[int]) -> None:
        states = job_states(self.resources.redis, SYNC_JOB, due)
        wall = time.time()
        moved = [sid for sid, s in states.items() if s.ended_at is not None and s.ended_at >= self._sellers_read_at]
        if moved:  # a sync ended since the seller list was read: poll from the cursor it left
            self._refresh_cursors(moved)
        for seller_id in due:
            state = states[seller_id]
            if held_back(state.status, state.leased, state.ended_at, wall,
                         failure_forgiven=self._failure_forgiven(seller_id)):
                self.schedules[seller_id] = after_skip(self.schedules[seller_id], now, self.interval)
                self.counts["skipped"] += 1
                continue
            self._forgiven.discard(seller_id)
            self._sync_from.pop(seller_id, None)
            seller = self.sellers[seller_id]
            if not self._usable_token(seller):
                self.schedules[seller_id] = after_poll(self.schedules[seller_id], now, self.interval,
                                                       PollOutcome.FAILED)
                continue
            self.in_flight[seller_id] = self.pool.submit(self._poll, seller_id, seller.token, seller.cursor)
            self._polled_from[seller_id] = seller.cursor
            self.last_poll_at = wall

    def _failure_forgiven(self, seller_id: int) -> bool:
        """A failed sync holds its seller back for a while, unless the token was replaced
        since, or the run stored progress before it failed (the cursor moved past where the
        poll that asked for it read from): that is no failure to cool off from."""
        if seller_id in self._forgiven:
            return True
        seller = self.sellers.get(seller_id)
        return seller_id in self._sync_from and seller is not None and self._sync_from[seller_id] != seller.cursor

    def _poll(self, seller_id: int, token: str, cursor: int | None) -> tuple[str, float | None, str | None]:
        held_for = self.membership.claim(seller_id)
        if held_for:  # polled this interval already: due again when the slot is free
            return PollOutcome.SLOT_TAKEN, held_for, None
        outcome, wait, error = self.probe.poll(seller_id, token, cursor)
        if sync_due(outcome):
            settings = self.resources.settings
            enqueue(self.resources.redis, SYNC_JOB, seller_id, settings.job_retry_delays)
        return outcome, wait, error

    def _harvest(self, now: float) -> None:
        for seller_id, future in list(self.in_flight.items()):
            if not future.done():
                continue
            del self.in_flight[seller_id]
            ours = False
            try:
                outcome, wait, error = future.result()
            except Exception as exc:  # Redis away mid-poll, a bug: this seller backs off
                log.warning("poll of seller %s failed: %s", seller_id, type(exc).__name__)
                outcome, wait, error, ours = PollOutcome.FAILED, None, None, True
            self.counts[outcome] += 1
            polled_from = self._polled_from.pop(seller_id, None)
            if outcome == PollOutcome.NEWS:
                self._sync_from[seller_id] = polled_from
            if seller_id not in self.schedules:
                continue
            schedule = after_poll(self.schedules[seller_id], now, self.interval, outcome, wait)
            self.schedules[seller_id] = schedule
            if not ours:  # the seller's page shows WB's failures, not ours (the log has those)
                self._record(seller_id, schedule, outcome, error)

    # ---- what operators see -----------------------------------------------------------

    def _record(self, seller_id: int, schedule, outcome: str, error: str | None) -> None:
        """Write a seller's poll failures when they start to show, and clear them at the
        first good poll; a poll like the one before writes nothing."""
        seller = self.sellers.get(seller_id)
        if is_good(outcome):
            self._failing_since.pop(seller_id, None)
            if seller is not None and seller.failing:
                self._write(seller_id, poll_error=None, poll_failing_since=None)
            return
        if outcome not in (PollOutcome.FAILED, PollOutcome.REFUSED):
            return
        since = self._failing_since.setdefault(seller_id, datetime.now(timezone.utc))
        if not shown_failing(schedule, outcome):
            return
        message = error or "the poll failed; see the poller's log"
        values = {"poll_error": message, "poll_failing_since": since}
        if outcome == PollOutcome.REFUSED:
            log.warning("seller %s: WB refused the token; polls paused until it changes", seller_id)
            values.update(sync_state=SyncState.AUTH_ERROR, last_error=REFUSED)
            del self.schedules[seller_id]
            self._failing_since.pop(seller_id, None)
        elif seller is not None and seller.failing:
            return  # already shown, since the first failure
        self._write(seller_id, **values)

    def _write(self, seller_id: int, **values) -> None:
        with self.resources.db.session() as session:
            if values.get("poll_failing_since") is not None:
                # Shown since the first failure, even when another poller wrote it first.
                values["poll_failing_since"] = _earliest(session, seller_id, values["poll_failing_since"])
            session.execute(update(Seller).where(Seller.id == seller_id).values(**values)
                            .execution_options(synchronize_session=False))
        old = self.sellers.get(seller_id)
        if old is not None:
            self.sellers[seller_id] = SellerFeed(old.id, old.token, old.cursor,
                                                 values.get("sync_state", old.state),
                                                 values.get("poll_failing_since") is not None)

    # ---- the seller list and this poller's share ----------------------------------------

    def _read_sellers(self, now: float) -> None:
        if self._sellers_at is not None and now - self._sellers_at < SELLERS_EVERY:
            return
        read_at = time.time()
        with self.resources.db.session() as session:
            rows = session.execute(
                select(Seller.id, Seller.wb_token, Seller.events_cursor, Seller.sync_state,
                       Seller.poll_failing_since).where(Seller.active.is_(True))
            ).all()
        sellers = {row.id: SellerFeed(row.id, row.wb_token, row.events_cursor, row.sync_state,
                                      row.poll_failing_since is not None) for row in rows}
        for seller_id, seller in sellers.items():
            old = self.sellers.get(seller_id)
            if old is not None and old.token != seller.token and seller.pollable:
                # `sellers set-token`: poll at once, whatever an old failure said.
                self._forgiven.add(seller_id)
                self._failing_since.pop(seller_id, None)
                if seller_id in self.schedules:
                    self.schedules[seller_id] = first_schedule(seller_id, now, 0.0)
                else:
                    self._due_now.add(seller_id)
        self.sellers, self._sellers_at, self._sellers_read_at = sellers, now, read_at

    def _current_share(self) -> set[int]:
        pollable = frozenset(sid for sid, s in self.sellers.items() if s.pollable)
        key = (self.membership.members, pollable)
        if key != self._share_of:
            self._share = self.membership.share(pollable)
            self._share_of = key
        return self._share

    def _refresh_cursors(self, seller_ids: list[int]) -> None:
        with self.resources.db.session() as session:
            rows = session.execute(select(Seller.id, Seller.events_cursor).where(Seller.id.in_(seller_ids))).all()
        for row in rows:
            old = self.sellers.get(row.id)
            if old is not None:
                self.sellers[row.id] = SellerFeed(old.id, old.token, row.events_cursor, old.state, old.failing)

    def _hold_nothing(self) -> None:
        self.schedules.clear()
        self._share, self._share_of = set(), None

    def _usable_token(self, seller: SellerFeed) -> bool:
        """A token that cannot go into a header (spaces, control characters) is said once."""
        problem = token_problem(seller.token)
        if problem and seller.id not in self._said_bad_token:
            log.warning("seller %s: cannot poll: %s; set it again with `flask sellers set-token %s`",
                        seller.id, problem, seller.id)
            self._said_bad_token.add(seller.id)
        return problem is None

    def next_due(self) -> float | None:
        return min((s.due_at for sid, s in self.schedules.items() if sid not in self.in_flight), default=None)

    # ---- the loop -----------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set; a failed pass is reported and the loop goes on."""
        check_in_at = summary_at = self.clock()
        failed_since_check_in, said_redis_away = False, False
        while not stop.is_set():
            try:
                self.tick()
            except RedisUnavailable:
                failed_since_check_in = True
                if not said_redis_away:
                    log.warning("poller %s: Redis is unavailable; polling nothing until it is back", self.poller_id)
                    said_redis_away = True
                pause = 1.0
            except Exception as exc:  # the database or Redis away, or a bug: try again shortly
                failed_since_check_in = True
                self.counts["passes failed"] += 1
                log.warning("poller: a pass failed (%s); trying again", type(exc).__name__)
                self.hooks.pass_failed(exc)
                pause = min(self.interval, 5.0)
            else:
                if said_redis_away:
                    log.info("poller %s: Redis is back; polling again", self.poller_id)
                    said_redis_away = False
                due = self.next_due()
                now = self.clock()
                pause = TICK if due is None else min(TICK, max(MIN_STEP, due - now))
            now = self.clock()
            if now >= check_in_at:  # a heartbeat: "error" when a pass failed since the last one
                self.hooks.check_in(not failed_since_check_in)
                failed_since_check_in, check_in_at = False, now + CHECK_IN_EVERY
            if now >= summary_at:
                self._summarise()
                summary_at = now + SUMMARY_EVERY
            stop.wait(pause)

    def _summarise(self) -> None:
        if self.counts:
            log.info("poller %s: %d sellers held; since the last line: %s", self.poller_id, len(self.schedules),
                     ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items())))
        self.counts.clear()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.probe.close()
        self.membership.leave()


class RedisUnavailable(Exception):
    """This poller could not renew its membership: it polls nothing until Redis is back."""


def _earliest(session, seller_id: int, since: datetime) -> datetime:
    shown = session.scalar(select(Seller.poll_failing_since).where(Seller.id == seller_id))
    return min(shown, since) if shown is not None else since
