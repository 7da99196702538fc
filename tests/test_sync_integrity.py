"""The sync under a hostile or flaky WB, Redis and database: no event stalls a seller, no
analysis is lost between commit and enqueue, no cursor moves backwards, no run ends
`running`. Real worker processes, real Redis (a private redis-server where it must die),
SQLite and PostgreSQL."""
from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from redis import Redis
from sqlalchemy import select, text, update

from chatcenter.actions import request_sync
from chatcenter.clients.wb import WBClient, WBUnavailable
from chatcenter.models import Chat, Message, Seller, SyncState
from jobs.sync import CHAT_LIST_EVERY, chat_list_due, sync_seller_chats
from tests.helpers import WB_TOKEN, add_seller, overrides, resources, run_jobs, run_worker_process, wait_until

CHATS_PATH, EVENTS_PATH = "/api/v1/seller/chats", "/api/v1/seller/events"
SECRET_TEXT = "Мой телефон +79001234567, пишите"  # a buyer text: must reach no log line


def seller_row(app, seller_id) -> Seller:
    with resources(app).db.session() as session:
        return session.get(Seller, seller_id)


def stored_texts(app) -> list[str]:
    with resources(app).db.session() as session:
        return sorted(session.scalars(select(Message.text)))


# ---- poison events -----------------------------------------------------------------------

POISONS = {  # what a hostile feed sends -> stored cleaned (True) or set aside (False)
    "nul": ({"message": {"text": f"NUL\x00{SECRET_TEXT}"}}, True),
    "surrogate": ({"message": {"text": f"half\ud800{SECRET_TEXT}"}}, True),
    "bare string": ({"message": f"bare {SECRET_TEXT}"}, True),
    "long name": ({"clientName": "Я" * 500}, True),
    "far future": ({"addTimestamp": 10**17}, False),
    "long chatID": ({"chatID": "1:" + "c" * 300}, False),
    "long eventID": ({"eventID": "e" * 300}, False),
    "long sender": ({"sender": "client" * 20}, False),
}


@pytest.fixture
def worker_settings(job_settings, sentry_receiver):
    sentry_receiver.clear()
    return replace(job_settings, sentry_dsn=sentry_receiver.dsn, sentry_release="chatcenter@test")


def test_every_poison_event_is_cleaned_or_set_aside_and_later_messages_still_arrive(
        make_app, worker_settings, wb_stub, sentry_receiver):
    app = make_app(**overrides(worker_settings))
    chat = wb_stub.add_chat(client_name="Анна", text="")
    wb_stub.add_event(chat["chatID"], text="первое", is_new_chat=True)
    for poison, _ in POISONS.values():
        wb_stub.add_event(chat["chatID"], text="ignored", poison=poison)
    for n in range(4):
        wb_stub.add_event(chat["chatID"], text=f"после яда {n}")
    seller_id = add_seller(app)
    request_sync(resources(app), seller_id)

    done = run_worker_process(worker_settings, "sync")

    assert done.returncode == 0, done.stderr[-2000:]
    texts = stored_texts(app)
    assert [f"после яда {n}" for n in range(4)] == [t for t in texts if t.startswith("после")]
    assert {f"NUL{SECRET_TEXT}", f"half{SECRET_TEXT}", f"bare {SECRET_TEXT}"} <= set(texts)
    seller = seller_row(app, seller_id)
    set_aside = sum(not stored for _, stored in POISONS.values())
    assert (seller.sync_state, seller.last_error, seller.set_aside_events) == (SyncState.OK, None, set_aside)
    assert seller.events_cursor == wb_stub.events[-1]["addTimestamp"]
    assert "+79001234567" not in done.stdout + done.stderr
    assert "set aside" in done.stderr
    reports = sentry_receiver.wait_for("event", set_aside)
    assert sorted(e["fingerprint"][2] for e in reports) == [
        "addTimestamp out of range", "chatID too long", "eventID too long", "sender too long"]

    # The same kinds again: the messages come, Sentry hears nothing new.
    sentry_receiver.clear()
    wb_stub.add_event(chat["chatID"], text="x", poison={"addTimestamp": 10**17})
    wb_stub.add_event(chat["chatID"], text="и ещё одно")
    request_sync(resources(app), seller_id)
    assert run_worker_process(worker_settings, "sync").returncode == 0
    assert "и ещё одно" in stored_texts(app)
    assert seller_row(app, seller_id).set_aside_events == set_aside + 1
    time.sleep(1)  # the work-horse flushed before it exited; nothing may arrive late
    assert sentry_receiver.events == []


# ---- the cursor ---------------------------------------------------------------------------

def test_an_event_sharing_a_millisecond_across_a_page_boundary_is_not_skipped(job_app, wb_stub):
    chat = wb_stub.add_chat(text="")
    for n in range(3):  # page 1 ends with the third event...
        wb_stub.add_event(chat["chatID"], text=f"m{n}")
    wb_stub.add_event(chat["chatID"], text="same millisecond", same_ms=True)  # ...page 2 starts here
    wb_stub.add_event(chat["chatID"], text="m4")

    result = sync_seller_chats(add_seller(job_app))

    assert stored_texts(job_app) == sorted(["m0", "m1", "m2", "same millisecond", "m4"])
    assert result["messages_added"] == 5


def test_a_cursor_that_goes_backwards_stops_the_sync_with_a_clear_error(job_app, wb_stub):
    chat = wb_stub.add_chat(text="")
    for n in range(3):
        wb_stub.add_event(chat["chatID"], text=f"m{n}")
    seller_id = add_seller(job_app)
    sync_seller_chats(seller_id)
    cursor = seller_row(job_app, seller_id).events_cursor
    old = wb_stub.events[0]
    wb_stub.reset()
    wb_stub.fail_next(200, path=EVENTS_PATH, body={"result": {
        "next": cursor - 500, "totalEvents": 1, "events": [old], "newestEventTime": None, "oldestEventTime": None}})

    with pytest.raises(Exception, match="went backwards"):
        sync_seller_chats(seller_id)

    seller = seller_row(job_app, seller_id)
    assert seller.events_cursor == cursor
    assert seller.sync_state == SyncState.ERROR and "went backwards" in seller.last_error
    assert len([r for r in wb_stub.requests if r.path == EVENTS_PATH]) == 1  # no looping at the rate limit


def test_a_run_whose_cursor_another_run_moved_never_writes_it_back(job_app, wb_stub):
    chat = wb_stub.add_chat(text="")
    for n in range(6):
        wb_stub.add_event(chat["chatID"], text=f"m{n}")
    seller_id = add_seller(job_app)
    ahead = wb_stub.events[-1]["addTimestamp"]

    def other_run_moves_the_cursor():  # as a second sync would while this one was stalled
        with resources(job_app).db.session() as session:
            session.execute(update(Seller).where(Seller.id == seller_id).values(events_cursor=ahead))

    wb_stub.call_next(other_run_moves_the_cursor, path=EVENTS_PATH)

    with pytest.raises(Exception, match="another run moved"):
        sync_seller_chats(seller_id)

    assert seller_row(job_app, seller_id).events_cursor == ahead
    assert seller_row(job_app, seller_id).sync_state == SyncState.ERROR


def test_a_body_trickled_a_byte_a_second_ends_at_the_deadline(wb_stub):
    wb_stub.add_chat()
    wb_stub.trickle_next(1, path=CHATS_PATH)
    with WBClient(wb_stub.url, WB_TOKEN, deadline=2.0) as client, pytest.raises(WBUnavailable) as info:
        client.list_chats()
    assert "no complete answer within 2 s" in str(info.value) and info.value.transient


# ---- every failure ends in `error` ------------------------------------------------------------

def test_a_database_error_mid_sync_ends_in_error_without_sql_text(job_app, wb_stub):
    chat = wb_stub.add_chat(text="")
    wb_stub.add_event(chat["chatID"], text=SECRET_TEXT)
    seller_id = add_seller(job_app)

    def break_the_messages_table():
        with resources(job_app).db.session() as session:
            session.execute(text("ALTER TABLE messages RENAME TO messages_gone"))

    wb_stub.call_next(break_the_messages_table, path=EVENTS_PATH)
    with pytest.raises(Exception):
        sync_seller_chats(seller_id)

    seller = seller_row(job_app, seller_id)
    assert seller.sync_state == SyncState.ERROR
    assert seller.last_error.startswith("internal error (") and "messages" not in seller.last_error


def test_an_absurd_retry_header_means_a_short_default_wait(job_app, wb_stub):
    chat = wb_stub.add_chat(text="")
    wb_stub.add_event(chat["chatID"], text="m")
    seller_id = add_seller(job_app)
    for value in ("inf", "1e300", "1e9"):
        wb_stub.fail_next(429, headers={"X-Ratelimit-Retry": value}, path=EVENTS_PATH)

    result = sync_seller_chats(seller_id)

    assert result["messages_added"] == 1 and seller_row(job_app, seller_id).sync_state == SyncState.OK


# ---- analyses are not lost between commit and enqueue ---------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own, to kill without touching anyone else's data."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        assert wait_until(self._answers, timeout=10)
        return self

    def _answers(self) -> bool:
        try:
            return Redis.from_url(self.url, socket_timeout=1).ping()
        except Exception:  # noqa: BLE001 - not up yet
            return False

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis():
    redis = PrivateRedis().start()
    yield redis
    if redis.process.poll() is None:
        redis.kill()


def test_redis_killed_between_commit_and_enqueue_a_later_sync_enqueues_the_analysis(
        make_app, job_settings, wb_stub, private_redis):
    app = make_app(**overrides(job_settings, redis_url=private_redis.url))
    chat = wb_stub.add_chat(text="")
    wb_stub.add_event(chat["chatID"], text="Где мой заказ?", is_new_chat=True)
    seller_id = add_seller(app)
    wb_stub.call_next(private_redis.kill, path=EVENTS_PATH)  # dies while WB answers the page

    with app.app_context(), pytest.raises(Exception):
        sync_seller_chats(seller_id)
    seller = seller_row(app, seller_id)
    assert stored_texts(app) == ["Где мой заказ?"]  # the page committed...
    assert seller.sync_state == SyncState.ERROR and "Redis" in seller.last_error  # ...the enqueue did not

    private_redis.start()  # Redis back, empty: the queued analysis is gone for good
    resources(app).redis.connection_pool.disconnect()
    with app.app_context():
        again = sync_seller_chats(seller_id)
    assert (again["messages_added"], again["analyses_enqueued"]) == (0, 1)
    run_jobs(app, queues=("analysis",))
    with resources(app).db.session() as session:
        [stored] = session.scalars(select(Chat))
        assert stored.latest_analysis_id is not None and stored.analysis_due is False


def test_a_buyer_message_stored_during_an_analysis_keeps_the_chat_due(job_app, wb_stub, deepseek_stub):
    from jobs.analysis import analyze_chat_with_ai
    from tests.stubs import deepseek_stub as ds

    chat = wb_stub.add_chat(text="")
    wb_stub.add_event(chat["chatID"], text="Где мой заказ?", is_new_chat=True)
    seller_id = add_seller(job_app)
    sync_seller_chats(seller_id)
    with resources(job_app).db.session() as session:
        chat_id = session.scalars(select(Chat.id)).one()

    def sync_then_answer(handler):  # the buyer writes again while DeepSeek is thinking
        wb_stub.add_event(chat["chatID"], text="Ау?")
        with job_app.app_context():
            sync_seller_chats(seller_id)
        ds.ok().serve(handler)

    deepseek_stub.script(ds.Behaviour("sync then ok", sync_then_answer))
    analyze_chat_with_ai(chat_id)

    with resources(job_app).db.session() as session:
        assert session.get(Chat, chat_id).analysis_due is True


# ---- the chat list is read when needed, not on every sync --------------------------------------

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("refreshed_at, now, unknown, due", [
    (None, T0, False, True),                                   # never read: read it
    (T0, T0 + timedelta(seconds=10), False, False),            # the next poll: not again
    (T0, T0 + CHAT_LIST_EVERY - timedelta(seconds=1), False, False),
    (T0, T0 + CHAT_LIST_EVERY, False, True),                   # every few minutes otherwise
    (T0, T0 + timedelta(seconds=10), True, True),              # an event names a chat we do not know
])
def test_chat_list_due_with_a_fake_clock(refreshed_at, now, unknown, due):
    assert chat_list_due(refreshed_at, now, unknown) is due


def test_syncs_read_the_chat_list_only_for_new_chats_or_when_it_is_old(job_app, wb_stub):
    chat = wb_stub.add_chat(text="")
    wb_stub.add_event(chat["chatID"], text="первое", is_new_chat=True)
    seller_id = add_seller(job_app)

    def chat_list_reads() -> int:
        return len([r for r in wb_stub.requests if r.path == CHATS_PATH])

    sync_seller_chats(seller_id)
    assert chat_list_reads() == 1  # first sync

    wb_stub.add_event(chat["chatID"], text="второе")
    sync_seller_chats(seller_id)
    assert chat_list_reads() == 1  # a known chat: no list

    other = wb_stub.add_chat(client_name="Борис", text="")
    wb_stub.add_event(other["chatID"], text="новый чат", is_new_chat=True)
    sync_seller_chats(seller_id)
    assert chat_list_reads() == 2  # a new chat: its name and card come with the list
    with resources(job_app).db.session() as session:
        assert session.scalars(select(Chat.client_name).where(Chat.wb_chat_id == other["chatID"])).one() == "Борис"
