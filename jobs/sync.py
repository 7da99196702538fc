"""sync_seller_chats: bring one seller's chats and messages up to date from WB."""
from __future__ import annotations

import logging

from chatcenter import privacy
from chatcenter.chat_store import store_chat_list, store_events
from chatcenter.models import Seller, SyncState, utcnow
from chatcenter.queues import enqueue_analysis
from chatcenter.ratelimit import RedisRateLimiter
from chatcenter.runtime import current
from chatcenter.wb import WBAuthError, WBClient, WBError
from jobs.failures import PermanentJobError, no_more_retries
from jobs.leases import exclusive_run

log = logging.getLogger("jobs.sync")

LOCK_LEASE = 120  # seconds; renewed every page, so a killed worker frees the seller soon
MAX_PAGES = 10_000  # a feed that never ends is a bug on one side: stop and say so


def wb_rate_limiter(redis, seller_id: int) -> RedisRateLimiter:
    # WB allows 10 requests per 10 s per seller, across all our processes.
    return RedisRateLimiter(redis, f"chatcenter:wb-rate:{seller_id}", limit=10, period=10.0)


def _set_state(db, seller_id: int, state: str, error: str | None = None, synced: bool = False) -> None:
    with db.session() as session:
        seller = session.get(Seller, seller_id)
        seller.sync_state = state
        seller.last_error = error
        if synced:
            seller.last_synced_at = utcnow()


def sync_seller_chats(seller_id: int) -> dict:
    # Buyer names and texts are not registered here: they stay in structured locals under
    # their own keys (clientName, text), which the filter masks by name.
    privacy.clear_personal()
    runtime = current()
    db, redis = runtime.db, runtime.redis
    with exclusive_run(redis, f"sync-seller-{seller_id}", LOCK_LEASE) as lock:
        if lock is None:
            log.info("seller %s: another sync is running; this one does nothing", seller_id)
            return {"seller_id": seller_id, "skipped": "another sync of this seller is running"}

        with db.session() as session:
            seller = session.get(Seller, seller_id)
            if seller is None:
                no_more_retries()
                raise PermanentJobError(f"seller {seller_id} does not exist")
            token, cursor, active = seller.wb_token, seller.events_cursor, seller.active
            seller.sync_state = SyncState.RUNNING
        if not active:
            _set_state(db, seller_id, SyncState.IDLE)
            return {"seller_id": seller_id, "skipped": "seller is inactive"}
        privacy.register_secret(token)

        client = WBClient(runtime.settings.wb_api_base_url, token, limiter=wb_rate_limiter(redis, seller_id))
        del token
        totals = {"seller_id": seller_id, "chats_added": 0, "messages_added": 0, "analyses_enqueued": 0, "pages": 0}
        try:
            with client:
                _sync(client, runtime, seller_id, cursor, lock, totals)
        except WBAuthError as exc:
            # A bad token will not get better by retrying: one failure, one Sentry event.
            _set_state(db, seller_id, SyncState.AUTH_ERROR, str(exc))
            no_more_retries()
            log.warning("seller %s: WB refused the token; syncs paused until it changes", seller_id)
            raise
        except WBError as exc:
            _set_state(db, seller_id, SyncState.ERROR, str(exc))
            if not exc.transient:
                no_more_retries()
            raise
        _set_state(db, seller_id, SyncState.OK, synced=True)
    log.info("seller %s synced: %s chats and %s messages added in %s pages, %s analyses enqueued",
             seller_id, totals["chats_added"], totals["messages_added"], totals["pages"],
             totals["analyses_enqueued"])
    return totals


def _sync(client: WBClient, runtime, seller_id: int, cursor: int | None, lock, totals: dict) -> None:
    db = runtime.db
    wb_chats = client.list_chats()
    with db.session() as session:
        totals["chats_added"] += store_chat_list(session, seller_id, wb_chats)

    for _ in range(MAX_PAGES):
        page = client.get_events(cursor)
        events = page.get("events") or []
        if not page.get("totalEvents") or not events:
            return
        # The page's rows and the cursor past them commit together: a crash between
        # pages loses nothing and a re-run re-reads at most one page.
        with db.session() as session:
            stored = store_events(session, seller_id, events)
            session.get(Seller, seller_id).events_cursor = page["next"]
        totals["pages"] += 1
        totals["chats_added"] += stored.chats_added
        totals["messages_added"] += stored.messages_added
        for chat_id in sorted(stored.chats_with_new_buyer_messages):
            if enqueue_analysis(runtime, chat_id).created:
                totals["analyses_enqueued"] += 1
        lock.extend(LOCK_LEASE, replace_ttl=True)
        if page["next"] == cursor:
            raise WBError(f"WB events cursor did not advance past {cursor}")
        cursor = page["next"]
    raise WBError(f"WB events feed did not end after {MAX_PAGES} pages")
