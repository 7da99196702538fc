"""The poller: the cron process's loop that keeps every active seller fresh.

Every SYNC_INTERVAL_SECONDS each active seller (not `auth_error`) is polled: one WB request,
`GET events` from the seller's stored cursor, on a small thread pool. An empty answer costs
nothing more: no database write, no job. Events past the cursor enqueue the seller's sync
(idempotent per seller). A seller whose sync is queued or running is not polled. The
decisions (when, backoff, budget) live in chatcenter/poller.py; this module does the I/O.

Polls take WB slots from the same per-seller Redis budget as syncs and replies
(WBClient.for_seller), but never wait for one: when the budget is used up the poll moves
aside and the seller is polled once a slot is free.

Each pass also enqueues the analysis of any chat still due for one whose analysis is not
pending: a message that arrived while its chat's analysis ran (that run did not cover it,
and the sync could not enqueue a second one) gets exactly one more, covering the burst.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from rq.job import Job
from rq.utils import utcparse
from sqlalchemy import select

from chatcenter.clients.wb import WBAuthError, WBClient, WBError, WBRateLimited
from chatcenter.leases import lease_key
from chatcenter.models import Chat, Seller, SyncState
from chatcenter.observability.sentry import active_sdk
from chatcenter.poller import (
    Outcome, after_poll, after_skip, first_schedule, has_news, held_back, is_due, should_poll, sync_due,
)
from chatcenter.queues import ANALYSIS_JOB, SYNC_JOB, JobKind, enqueue, recover_dead_runs

log = logging.getLogger("jobs.poller")

POLL_THREADS = 16  # polls are I/O: 500 sellers every 10 s is ~50 a second, a few ms each
TICK = 0.5         # the loop's step: sellers are polled within this of being due
POLL_TIMEOUT = (3.05, 10.0)  # connect, read: a poll is small; a slow WB must not pile polls up
MONITOR_SLUG = "chatcenter-sync-all-sellers"
# Sentry Crons heartbeat: one check-in per this many seconds (Crons counts in minutes).
MONITOR_EVERY = 60.0
SUMMARY_EVERY = 60.0


@dataclass(frozen=True)
class SellerFeed:
    id: int
    token: str = field(repr=False)
    cursor: int | None


def held_back_subjects(redis, kind: JobKind, subject_ids) -> set[int]:
    """The subjects whose `kind` job is pending or failed lately (chatcenter.poller.held_back),
    read in one Redis round trip."""
    ids = list(subject_ids)
    if not ids:
        return set()
    pipe = redis.pipeline(transaction=False)
    for subject_id in ids:
        job_id = kind.job_id(subject_id)
        pipe.hmget(Job.key_for(job_id), "status", "ended_at")
        pipe.exists(lease_key(job_id))
    answers = pipe.execute()
    now = time.time()
    held = set()
    for subject_id, (status, ended), leased in zip(ids, answers[0::2], answers[1::2]):
        ended_at = utcparse(ended.decode()).timestamp() if ended else None
        if held_back(status.decode() if status else None, bool(leased), ended_at, now):
            held.add(subject_id)
    return held


def poll_feed(client: WBClient, cursor: int | None) -> tuple[str, float | None]:
    """One WB request: is there anything past `cursor`? Returns (outcome, seconds to wait)."""
    try:
        page = client.get_events(cursor)
    except WBAuthError:
        return Outcome.REFUSED, None
    except WBRateLimited as exc:
        return Outcome.RATE_LIMITED, exc.retry_after
    except WBError as exc:
        log.info("poll failed: %s", exc)  # WB's messages carry no token or buyer data
        return Outcome.FAILED, None
    return (Outcome.NEWS if has_news(page) else Outcome.NOTHING_NEW), None


class Poller:
    def __init__(self, resources, *, threads: int = POLL_THREADS, clock=time.monotonic):
        self.resources = resources
        self.interval = float(resources.settings.sync_interval_seconds)
        self.clock = clock
        self.schedules: dict = {}
        self.in_flight: dict[int, Future] = {}
        self.clients: dict[int, tuple[str, WBClient]] = {}
        self.counts: Counter = Counter()
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="poll")
        self._said_bad_token: set[int] = set()
        self._recover_at = 0.0

    # ---- one pass -----------------------------------------------------------------

    def tick(self) -> None:
        """Harvest finished polls, start the due ones, enqueue due analyses."""
        now = self.clock()
        self._harvest(now)
        sellers = self._active_sellers()
        self._forget_gone(sellers)
        for seller_id in sellers:
            if seller_id not in self.schedules:
                self.schedules[seller_id] = first_schedule(seller_id, now, self.interval)
        due = [sid for sid in sellers if sid not in self.in_flight and is_due(self.schedules[sid], now)]
        pending = held_back_subjects(self.resources.redis, SYNC_JOB, due)
        for seller_id in due:
            if not should_poll(self.schedules[seller_id], now, sync_pending=seller_id in pending):
                self.schedules[seller_id] = after_skip(self.schedules[seller_id], now, self.interval)
                self.counts["skipped"] += 1
                continue
            client = self._client(sellers[seller_id])
            if client is None:
                self.schedules[seller_id] = after_poll(self.schedules[seller_id], now, self.interval,
                                                       Outcome.FAILED)
                continue
            self.in_flight[seller_id] = self.pool.submit(self._poll, seller_id, client,
                                                         sellers[seller_id].cursor)
        self.counts["analyses"] += self._enqueue_due_analyses()
        if now >= self._recover_at:  # jobs a killed worker left "started" (a reply nobody asks for again)
            self._recover_at = now + self.interval
            recovered = recover_dead_runs(self.resources.redis, self.resources.settings.job_retry_delays)
            if recovered:
                log.warning("poller: %d jobs left started by a dead worker enqueued anew: %s",
                            len(recovered), ", ".join(recovered))

    def _poll(self, seller_id: int, client: WBClient, cursor: int | None) -> tuple[str, float | None]:
        outcome, wait = poll_feed(client, cursor)
        if sync_due(outcome):
            settings = self.resources.settings
            enqueue(self.resources.redis, SYNC_JOB, seller_id, settings.job_retry_delays)
        return outcome, wait

    def _harvest(self, now: float) -> None:
        for seller_id, future in list(self.in_flight.items()):
            if not future.done():
                continue
            del self.in_flight[seller_id]
            try:
                outcome, wait = future.result()
            except Exception as exc:  # Redis away mid-poll, a bug: this seller backs off
                log.warning("poll of seller %s failed: %s", seller_id, type(exc).__name__)
                outcome, wait = Outcome.FAILED, None
            self.counts[outcome] += 1
            if seller_id in self.schedules:
                self.schedules[seller_id] = after_poll(self.schedules[seller_id], now, self.interval, outcome, wait)

    def _active_sellers(self) -> dict[int, SellerFeed]:
        with self.resources.db.session() as session:
            rows = session.execute(
                select(Seller.id, Seller.wb_token, Seller.events_cursor)
                .where(Seller.active.is_(True), Seller.sync_state != SyncState.AUTH_ERROR)
            ).all()
        return {row.id: SellerFeed(row.id, row.wb_token, row.events_cursor) for row in rows}

    def _forget_gone(self, sellers: dict) -> None:
        for seller_id in [sid for sid in self.schedules if sid not in sellers]:
            del self.schedules[seller_id]
            self._drop_client(seller_id)

    def _client(self, seller: SellerFeed) -> WBClient | None:
        """One kept-alive client per seller (a new token, a new client)."""
        cached = self.clients.get(seller.id)
        if cached is not None and cached[0] == seller.token:
            return cached[1]
        self._drop_client(seller.id)
        settings = self.resources.settings
        try:
            client = WBClient.for_seller(settings.wb_api_base_url, seller.token, self.resources.redis, seller.id,
                                         connect_timeout=POLL_TIMEOUT[0], read_timeout=POLL_TIMEOUT[1],
                                         max_rate_wait=0.0)
        except ValueError as exc:  # the message names the problem, never the token
            if seller.id not in self._said_bad_token:
                log.warning("seller %s: cannot poll: %s; set it again with `flask sellers set-token %s`",
                            seller.id, exc, seller.id)
                self._said_bad_token.add(seller.id)
            return None
        self.clients[seller.id] = (seller.token, client)
        return client

    def _drop_client(self, seller_id: int) -> None:
        cached = self.clients.pop(seller_id, None)
        if cached is not None and seller_id not in self.in_flight:
            cached[1].close()

    def _enqueue_due_analyses(self) -> int:
        settings = self.resources.settings
        if not settings.analysis_enabled:
            return 0
        with self.resources.db.session() as session:
            due = session.scalars(select(Chat.id).where(Chat.analysis_due.is_(True)).order_by(Chat.id)
                                  .limit(1000)).all()
        pending = held_back_subjects(self.resources.redis, ANALYSIS_JOB, due)
        return sum(enqueue(self.resources.redis, ANALYSIS_JOB, chat_id, settings.job_retry_delays).created
                   for chat_id in due if chat_id not in pending)

    # ---- the loop -----------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until `stop` is set; a failed pass is reported and the loop goes on."""
        monitor_at = summary_at = self.clock()
        failed_since_check_in = False
        while not stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # the database or Redis away, or a bug: try again shortly
                failed_since_check_in = True
                self.counts["passes failed"] += 1
                log.warning("poller: a pass failed (%s); trying again", type(exc).__name__)
                sdk = active_sdk()
                if sdk is not None:
                    sdk.capture_exception(exc)
                pause = min(self.interval, 5.0)
            else:
                pause = TICK
            now = self.clock()
            if now >= monitor_at:  # a heartbeat: "error" when a pass failed since the last one
                check_in(ok=not failed_since_check_in)
                failed_since_check_in, monitor_at = False, now + MONITOR_EVERY
            if now >= summary_at:
                self._summarise()
                summary_at = now + SUMMARY_EVERY
            stop.wait(pause)

    def _summarise(self) -> None:
        if self.counts:
            log.info("poller: %d sellers; since the last line: %s", len(self.schedules),
                     ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items())))
        self.counts.clear()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for _token, client in self.clients.values():
            client.close()
        self.clients.clear()


def monitor_config() -> dict:
    return {
        "schedule": {"type": "interval", "value": max(1, math.ceil(MONITOR_EVERY / 60)), "unit": "minute"},
        "checkin_margin": 1,      # minutes late before Sentry calls it missed
        "max_runtime": 10,
        "failure_issue_threshold": 1,
    }


def check_in(ok: bool) -> None:
    """One Sentry Crons check-in for the poller as a whole (never per seller); nothing when Sentry is off."""
    sdk = active_sdk()
    if sdk is None:
        return
    from sentry_sdk.crons import MonitorStatus, capture_checkin

    capture_checkin(monitor_slug=MONITOR_SLUG, status=MonitorStatus.OK if ok else MonitorStatus.ERROR,
                    monitor_config=monitor_config())
