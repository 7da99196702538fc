"""sync_seller_chats: bring one seller's chats and messages up to date from WB."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from sqlalchemy import select

from chatcenter import runtime
from chatcenter.chat_store import store_chat_list, store_events
from chatcenter.clients.wb import WBAuthError, WBClient, WBError
from chatcenter.failures import PermanentJobError
from chatcenter.models import Chat, Seller, SyncState, utcnow
from chatcenter.queues import ANALYSIS_JOB, enqueue

log = logging.getLogger("jobs.sync")

MAX_PAGES = 10_000  # a feed that never ends is a bug on one side: stop and say so
_analysis_off_said = False


@dataclass
class SyncResult:
    seller_id: int
    chats_added: int = 0
    messages_added: int = 0
    pages: int = 0
    analyses_enqueued: int = 0

    def describe(self) -> str:
        return (f"{self.chats_added} chats and {self.messages_added} messages added in {self.pages} pages, "
                f"{self.analyses_enqueued} analyses enqueued")


def sync_seller_chats(seller_id: int) -> dict:
    resources = runtime.get()
    with resources.db.session() as session:
        seller = session.get(Seller, seller_id)
        if seller is None:
            raise PermanentJobError(f"seller {seller_id} does not exist")
        token, cursor, active = seller.wb_token, seller.events_cursor, seller.active
        seller.sync_state = SyncState.RUNNING if active else SyncState.IDLE
    if not active:
        return {"seller_id": seller_id, "skipped": "seller is inactive"}

    result = SyncResult(seller_id)
    try:
        with WBClient.for_seller(resources.settings.wb_api_base_url, token, resources.redis, seller_id) as client:
            _sync(client, resources, cursor, result)
    except Exception as exc:
        _finish(resources.db, seller_id, exc)
        raise
    _finish(resources.db, seller_id, None)
    log.info("seller %s synced: %s", seller_id, result.describe())
    return asdict(result)


def _finish(db, seller_id: int, error: BaseException | None) -> None:
    """The one place a run's outcome becomes the seller's state and public last error."""
    if error is None:
        state, message = SyncState.OK, None
    elif isinstance(error, WBAuthError):
        # A bad token will not get better by retrying: paused until `sellers set-token`.
        state, message = SyncState.AUTH_ERROR, str(error)
        log.warning("seller %s: WB refused the token; syncs paused until it changes", seller_id)
    elif isinstance(error, (WBError, PermanentJobError)):
        state, message = SyncState.ERROR, str(error)
    else:  # not ours: its text may quote data, its class name is enough
        state, message = SyncState.ERROR, f"internal error ({type(error).__name__}); see the worker log"
    with db.session() as session:
        seller = session.get(Seller, seller_id)
        if seller is not None:
            seller.sync_state, seller.last_error = state, message
            if error is None:
                seller.last_synced_at = utcnow()


def _sync(client: WBClient, resources, cursor: int | None, result: SyncResult) -> None:
    db, seller_id = resources.db, result.seller_id
    wb_chats = client.list_chats()
    with db.session() as session:
        result.chats_added += store_chat_list(session, seller_id, wb_chats)
        session.get(Seller, seller_id).chats_refreshed_at = utcnow()

    for _ in range(MAX_PAGES):
        page = client.get_events(cursor)
        events = page.get("events") or []
        if not page.get("totalEvents") or not events:
            break
        # The page's rows and the cursor past them commit together: a crash between
        # pages loses nothing and a re-run re-reads at most one page.
        with db.session() as session:
            stored = store_events(session, seller_id, events)
            session.get(Seller, seller_id).events_cursor = page["next"]
        result.pages += 1
        result.chats_added += stored.chats_added
        result.messages_added += stored.messages_added
        result.analyses_enqueued += enqueue_due_analyses(resources, seller_id)
        if page["next"] == cursor:
            raise WBError(f"WB events cursor did not advance past {cursor}")
        cursor = page["next"]
    else:
        raise WBError(f"WB events feed did not end after {MAX_PAGES} pages")


def enqueue_due_analyses(resources, seller_id: int) -> int:
    """Enqueue an analysis for every chat of the seller that is due for one.

    "Due" is stored with the messages, so analyses lost between a commit and this call
    (Redis or the worker gone) are enqueued by the next sync instead.
    """
    global _analysis_off_said
    if not resources.settings.analysis_enabled:
        if not _analysis_off_said:
            log.info("analysis is off (DEEPSEEK_API_KEY is empty): no analyses are enqueued")
            _analysis_off_said = True
        return 0
    with resources.db.session() as session:
        due = session.scalars(select(Chat.id).where(Chat.seller_id == seller_id, Chat.analysis_due.is_(True))
                              .order_by(Chat.id)).all()
    delays = resources.settings.job_retry_delays
    return sum(enqueue(resources.redis, ANALYSIS_JOB, chat_id, delays).created for chat_id in due)
