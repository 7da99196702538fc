"""sync_seller_chats: bring one seller's chats and messages up to date from WB."""
from __future__ import annotations

import contextvars
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import select, update

from chatcenter import runtime
from chatcenter.attachments import enqueue_fetches
from chatcenter.chat_store import store_chat_list, store_events, store_set_aside
from chatcenter.clients.wb import WBAuthError, WBClient, WBError
from chatcenter.failures import PermanentJobError
from chatcenter.metrics import Recorder
from chatcenter.models import Chat, Seller, SyncState, utcnow
from chatcenter.queues import ANALYSIS_JOB, QueueUnavailable, enqueue
from chatcenter.sync_alerts import report_set_aside
from chatcenter.wb_events import clean_chats, clean_page

log = logging.getLogger("jobs.sync")

# A run's budget: it stops after this many pages or seconds, stored up to where it got, and
# the next run (the poller sees the news within an interval) continues from the committed
# cursor. A long backlog or a slow WB never makes one endless run that holds the seller.
RUN_PAGES = 1000
RUN_SECONDS = 60.0
# Most events stored per transaction: fewer commits (each one a disk flush) without holding
# much in memory; a crash costs a re-read of at most this many.
BATCH_EVENTS = 1000
STORE_WHILE_WAITING_AFTER = 0.1  # seconds
# Pages read ahead while a batch is stored: a batch's worth, so the database and WB work
# at the same time (ingest was waiting on each in turn).
PAGES_AHEAD = 10
# The chat list costs a WB request and brings only names and cards (events name new chats
# themselves), so it is read when an event names a chat we do not know, and otherwise at
# most this often.
CHAT_LIST_EVERY = timedelta(minutes=5)
_analysis_off_said = False


class CursorError(WBError):
    """WB's feed cursor went backwards, or another run moved ours: this run stops."""


@dataclass
class SyncResult:
    seller_id: int
    chats_added: int = 0
    messages_added: int = 0
    pages: int = 0
    analyses_enqueued: int = 0
    events_set_aside: int = 0
    chat_list_read: bool = False
    set_aside_kinds: dict = field(default_factory=dict)
    more: bool = False  # stopped at its page or time budget: the feed has more, the next run reads it

    def describe(self) -> str:
        set_aside = f"{self.events_set_aside} events set aside, " if self.events_set_aside else ""
        more = "; more to read: the next sync continues" if self.more else ""
        return (f"{self.chats_added} chats and {self.messages_added} messages added in {self.pages} pages, "
                f"{set_aside}{self.analyses_enqueued} analyses enqueued{more}")


def chat_list_due(refreshed_at: datetime | None, now: datetime, unknown_chat_seen: bool,
                  every: timedelta = CHAT_LIST_EVERY) -> bool:
    """Should this sync read WB's chat list? (Pure: the caller passes the clock.)"""
    return unknown_chat_seen or refreshed_at is None or now - refreshed_at >= every


def sync_seller_chats(seller_id: int) -> dict:
    resources = runtime.get()
    with resources.db.session() as session:
        seller = session.get(Seller, seller_id)
        if seller is None:
            raise PermanentJobError(f"seller {seller_id} does not exist")
        token, cursor, active = seller.wb_token, seller.events_cursor, seller.active
        refreshed_at = seller.chats_refreshed_at
        seller.sync_state = SyncState.RUNNING if active else SyncState.IDLE
    if not active:
        return {"seller_id": seller_id, "skipped": "seller is inactive"}

    result = SyncResult(seller_id)
    # BaseException: a job timeout or a signal must not leave the seller "running" either.
    try:
        with WBClient.for_seller(resources.settings.wb_api_base_url, token, resources.redis, seller_id) as client:
            _sync(client, resources, cursor, refreshed_at, result)
    except BaseException as exc:
        _finish(resources.db, seller_id, exc)
        raise
    _finish(resources.db, seller_id, None)
    log.info("seller %s synced: %s", seller_id, result.describe())
    return asdict(result)


def public_error(error: BaseException) -> tuple[str, str]:
    """The seller's state and the last error operators may read for a run's failure."""
    if isinstance(error, WBAuthError):
        return SyncState.AUTH_ERROR, str(error)
    if isinstance(error, (WBError, PermanentJobError, QueueUnavailable)):
        return SyncState.ERROR, str(error)
    if isinstance(error, RedisError):
        return SyncState.ERROR, f"Redis is unavailable ({type(error).__name__}); the next sync tries again"
    # Not ours: its text may quote data (SQL parameters, a buyer's text); the class name is enough.
    return SyncState.ERROR, f"internal error ({type(error).__name__}); see the worker log"


def _finish(db, seller_id: int, error: BaseException | None) -> None:
    """The one place a run's outcome becomes the seller's state and public last error."""
    state, message = (SyncState.OK, None) if error is None else public_error(error)
    if isinstance(error, WBAuthError):
        # A bad token will not get better by retrying: paused until `sellers set-token`.
        log.warning("seller %s: WB refused the token; syncs paused until it changes", seller_id)
    for attempt in (1, 2):  # a database that just failed the run may answer a moment later
        try:
            with db.session() as session:
                values = {"sync_state": state, "last_error": message}
                if error is None:
                    values["last_synced_at"] = utcnow()
                session.execute(update(Seller).where(Seller.id == seller_id).values(**values))
            return
        except Exception as exc:  # noqa: BLE001 - the run's own error matters more; say this one
            log.error("seller %s: could not record the sync's outcome (attempt %s: %s)",
                      seller_id, attempt, type(exc).__name__)


def _sync(client: WBClient, resources, cursor: int | None, refreshed_at, result: SyncResult) -> None:
    seller_id = result.seller_id
    if chat_list_due(refreshed_at, utcnow(), unknown_chat_seen=False):
        _read_chat_list(client, resources, result)

    run = _Run(resources, result, cursor)
    feed, failure = read_feed(client, cursor, RUN_PAGES, time.monotonic() + RUN_SECONDS, result), None
    try:
        while True:
            try:
                page = next(feed)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - WB or Redis failed: the pages read so far are good
                failure = exc
                break
            # Pages that come fast are stored together (fewer commits); while WB is slow to
            # send the next one, what is here is stored (and shown) at once.
            if page is None:
                run.store()
                continue
            run.add_page(*page)
            if len(run.batch) >= BATCH_EVENTS:
                run.store()
        run.store()
    finally:
        feed.close()
    if failure is not None:
        raise failure  # what was read is stored: a retry, or the next run, continues from the cursor

    if result.set_aside_kinds:
        report_set_aside(resources.redis, seller_id, result.set_aside_kinds)
    if run.unknown_chat_seen and not result.chat_list_read:
        _read_chat_list(client, resources, result)
    # Chats still due from an earlier run (Redis or the worker gone between commit and enqueue).
    result.analyses_enqueued += enqueue_due_analyses(resources, seller_id, skip=run.enqueued)


def read_feed(client: WBClient, cursor: int | None, max_pages: int = RUN_PAGES, deadline: float | None = None,
              result: SyncResult | None = None) -> Iterator[tuple[list, int] | None]:
    """WB's event pages from `cursor` on, as (events, next). A thread reads up to
    PAGES_AHEAD pages ahead while the caller stores, and None comes when WB is slow to send
    the next one (a hint to store what is here). Stops when the feed is caught up, or after
    `max_pages` pages or at `deadline` (time.monotonic(); `result.more` says so); raises
    CursorError when WB's cursor goes backwards (an oscillating feed would otherwise loop
    at the rate limit)."""
    pages: queue.Queue = queue.Queue(maxsize=PAGES_AHEAD)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce(at: int | None) -> None:
        try:
            for read in range(max_pages + 1):
                if read == max_pages or (deadline is not None and read and time.monotonic() >= deadline):
                    if result is not None:
                        result.more = True  # the budget is spent: the next run goes on from the cursor
                    break
                # One millisecond back: if WB's `next` means "strictly after", an event sharing
                # the last stored event's millisecond but served on the next page is not
                # skipped. The repeats are dropped by the messages' unique key.
                page = client.get_events(at - 1 if at else None)
                raw_events = page.get("events") or []
                if not page.get("totalEvents") or not raw_events:
                    break
                next_cursor = page["next"]
                if at is not None and next_cursor == at:
                    break  # the page only re-read the cursor's millisecond: caught up
                if at is not None and next_cursor < at:
                    raise CursorError(f"WB's events cursor went backwards (next={next_cursor} after {at}); "
                                      f"the sync stopped and tries again next round")
                at = next_cursor
                if not put((raw_events, at)):
                    return
            put(_FEED_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
            put(exc)

    # In a copy of this context: Sentry's scope (breadcrumbs of the WB calls) goes along.
    reader = threading.Thread(target=contextvars.copy_context().run, args=(produce, cursor),
                              name="wb-feed", daemon=True)
    reader.start()
    try:
        while True:
            try:
                item = pages.get(timeout=STORE_WHILE_WAITING_AFTER)
            except queue.Empty:  # WB is slow to send: let the caller store what it has meanwhile
                yield None
                item = pages.get()
            if item is _FEED_END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


_FEED_END = object()


class _Run:
    """Pages read but not stored yet, and what storing them told us."""

    def __init__(self, resources, result: SyncResult, cursor: int | None):
        self.resources, self.result = resources, result
        self.stored_cursor = self.cursor = cursor
        self.batch: list = []
        self.unknown_chat_seen = False
        self.enqueued: set[int] = set()

    def add_page(self, raw_events: list, next_cursor: int) -> None:
        self.batch.extend(raw_events)
        self.cursor = next_cursor
        self.result.pages += 1

    def store(self) -> None:
        """The batch's rows, the cursor past them and the set-aside count commit together:
        a crash loses nothing and a re-run re-reads at most one batch."""
        if not self.batch:
            return
        result, seller_id = self.result, self.result.seller_id
        cleaned = clean_page(self.batch)
        # The write lock from the start: the reply job may be storing the reply WB echoes here.
        with self.resources.db.session(write_lock=True) as session:
            stored = store_events(session, seller_id, cleaned.events)
            set_aside = store_set_aside(session, seller_id, cleaned.set_aside)
            _move_cursor(session, seller_id, self.stored_cursor, self.cursor, len(set_aside))
        self.batch, self.stored_cursor = [], self.cursor
        stored_at = time.time()
        Recorder(self.resources.redis).messages_ingested(
            seller_id, (stored_at - sent.timestamp() for sent in stored.sent_times))
        for event in set_aside:  # by id and kind: the event's text may be a buyer's
            log.warning("seller %s: WB event %s set aside (%s)", seller_id, event.event_id, event.kind)
            result.set_aside_kinds[event.kind] = result.set_aside_kinds.get(event.kind, 0) + 1
        result.events_set_aside += len(set_aside)
        result.chats_added += stored.chats_added
        result.messages_added += stored.messages_added
        self.unknown_chat_seen |= stored.chats_added > 0 or stored.new_chat_announced
        result.analyses_enqueued += enqueue_analyses(self.resources, sorted(stored.buyer_chat_ids - self.enqueued))
        self.enqueued |= stored.buyer_chat_ids
        if stored.file_message_ids:  # lost with Redis? the poller's recovery enqueues them
            enqueue_fetches(self.resources, stored.file_message_ids)


def _move_cursor(session, seller_id: int, expected: int | None, new: int, set_aside: int) -> None:
    """Compare-and-set: the cursor moves only from the value this run read. Another run
    of the same seller (this one's lease lost) moving it first makes this page roll back."""
    held = Seller.events_cursor.is_(None) if expected is None else Seller.events_cursor == expected
    moved = session.execute(
        update(Seller).where(Seller.id == seller_id, held)
        .values(events_cursor=new, set_aside_events=Seller.set_aside_events + set_aside)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved != 1:
        raise CursorError(f"another run moved seller {seller_id}'s events cursor; this run stopped")


def _read_chat_list(client: WBClient, resources, result: SyncResult) -> None:
    chats, set_aside = clean_chats(client.list_chats())
    with resources.db.session() as session:
        result.chats_added += store_chat_list(session, result.seller_id, chats)
        session.execute(update(Seller).where(Seller.id == result.seller_id).values(chats_refreshed_at=utcnow())
                        .execution_options(synchronize_session=False))
    if set_aside:
        log.warning("seller %s: %s chats of WB's chat list set aside (unusable chatID)", result.seller_id, set_aside)
    result.chat_list_read = True


def _analysis_on(resources) -> bool:
    global _analysis_off_said
    if not resources.settings.analysis_enabled:
        if not _analysis_off_said:
            log.info("analysis is off (DEEPSEEK_API_KEY is empty): no analyses are enqueued")
            _analysis_off_said = True
        return False
    return True


def enqueue_analyses(resources, chat_ids) -> int:
    if not chat_ids or not _analysis_on(resources):
        return 0
    delays = resources.settings.job_retry_delays
    return sum(enqueue(resources.redis, ANALYSIS_JOB, chat_id, delays).created for chat_id in chat_ids)


def enqueue_due_analyses(resources, seller_id: int, skip: set[int] = frozenset()) -> int:
    """Enqueue an analysis for every chat of the seller that is due for one.

    "Due" is stored with the messages, so analyses lost between a commit and an enqueue
    (Redis or the worker gone) are enqueued by the next sync instead.
    """
    if not _analysis_on(resources):
        return 0
    with resources.db.session() as session:
        due = session.scalars(select(Chat.id).where(Chat.seller_id == seller_id, Chat.analysis_due.is_(True))
                              .order_by(Chat.id)).all()
    return enqueue_analyses(resources, [chat_id for chat_id in due if chat_id not in skip])
