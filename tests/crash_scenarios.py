"""A real worker and its work-horse killed with SIGKILL mid-job, and the time until that
subject's job runs again, for each kind of job. tests/test_crash_recovery.py checks them,
bench/crash_recovery.py reports the figures.

Each scenario runs inside the app's context, checks that nothing was lost or doubled, and
returns the seconds from the kill until the subject's job ran again. A replacement worker
starts at once after the kill, as systemd's Restart= would.
"""
from __future__ import annotations

import time

from sqlalchemy import func, select

from chatcenter.actions import request_analysis, request_reply, request_sync
from chatcenter.models import Analysis, Reply, ReplyState
from jobs.sync import sync_seller_chats
from tests.helpers import add_seller, resources, rows, seed_wb, wait_until
from tests.helpers import start_process as start
from tests.stubs import deepseek_stub as ds
from tests.stubs.wb_stub import CHATS_PATH, EVENTS_PATH, MESSAGE_PATH
from tests.test_processes import kill_hard, message_count, stop

HANG = 120  # seconds a stub holds the request the dead run was waiting on
RECOVERY_BOUND = 90  # generous: only to keep a broken recovery from hanging the run


def _ask_until_enqueued(ask) -> None:
    """An operator (or cron) asking again every half second until a new job is taken."""
    assert wait_until(lambda: ask().created, timeout=RECOVERY_BOUND, interval=0.5), "never enqueued again"


def _killed_mid_job(settings, queue_name: str, in_flight) -> tuple[float, object]:
    """Start a worker, kill it hard once `in_flight()` is true; return (kill time, replacement)."""
    worker = start(settings, "worker.py", queue_name, "default")  # default: the periodic fan-out
    try:
        assert wait_until(in_flight, timeout=60), "the job never reached the point to kill it at"
        time.sleep(0.3)
    finally:
        kill_hard(worker)
    killed_at = time.monotonic()
    return killed_at, start(settings, "worker.py", queue_name, "default")


def sync_killed_mid_run(app, settings, wb_stub) -> float:
    seed_wb(wb_stub, chats=4, messages_per_chat=3)  # 12 events, 4 pages of 3
    seller_id = add_seller(app)
    wb_stub.delay_next(0, count=2, path=EVENTS_PATH)
    wb_stub.delay_next(HANG, path=EVENTS_PATH)  # the third page never comes
    request_sync(resources(app), seller_id)

    def third_page_asked():  # asked only once the first two pages are stored
        return sum(r.path == EVENTS_PATH for r in wb_stub.requests) >= 3

    killed_at, worker = _killed_mid_job(settings, "sync", third_page_asked)
    try:
        assert 0 < message_count(app) < 12  # cut off half-way
        seen = len(wb_stub.requests)
        _ask_until_enqueued(lambda: request_sync(resources(app), seller_id))
        assert wait_until(lambda: any(r.path == CHATS_PATH for r in wb_stub.requests[seen:]), timeout=RECOVERY_BOUND)
        recovered = time.monotonic() - killed_at
        assert wait_until(lambda: message_count(app) == 12, timeout=RECOVERY_BOUND)
    finally:
        stop(worker)
    chats, messages = rows(app)
    assert sorted(m[0] for m in messages) == sorted(e["eventID"] for e in wb_stub.events)  # once each
    assert len(chats) == 4
    return recovered


def _synced_chat(app, wb_stub) -> int:
    chat = wb_stub.add_chat(client_name="Мария Иванова", text="")
    wb_stub.add_event(chat["chatID"], text="Где мой заказ? Жду неделю.", sender="client", is_new_chat=True)
    sync_seller_chats(add_seller(app))  # enqueues the chat's analysis
    [(chat_id,)] = _chat_ids(app)
    return chat_id


def _chat_ids(app):
    from chatcenter.models import Chat

    with resources(app).db.session() as session:
        return session.execute(select(Chat.id)).all()


def _analyses(app) -> int:
    with resources(app).db.session() as session:
        return session.scalar(select(func.count()).select_from(Analysis))


def analysis_killed_mid_run(app, settings, wb_stub, deepseek_stub) -> float:
    chat_id = _synced_chat(app, wb_stub)
    deepseek_stub.script(ds.hang(HANG))  # the first answer never comes
    killed_at, worker = _killed_mid_job(settings, "analysis", lambda: len(deepseek_stub.requests) == 1)
    try:
        _ask_until_enqueued(lambda: request_analysis(resources(app), chat_id))
        assert wait_until(lambda: len(deepseek_stub.requests) == 2, timeout=RECOVERY_BOUND)
        recovered = time.monotonic() - killed_at
        assert wait_until(lambda: _analyses(app) == 1, timeout=RECOVERY_BOUND)
    finally:
        stop(worker)
    assert _analyses(app) == 1
    return recovered


def _reply(app, reply_id: int) -> Reply:
    with resources(app).db.session() as session:
        return session.get(Reply, reply_id)


def reply_killed_mid_send(app, settings, wb_stub) -> float:
    """WB took the text, then the worker died before its answer: the next run (the periodic
    fan-out finds the dead one, so no one has to ask) finds WB's echo in the feed and settles
    the reply as sent, without sending it again."""
    chat_id = _synced_chat(app, wb_stub)
    text = "Здравствуйте! Заказ уже в пути."
    wb_stub.accept_then_hang_next(HANG)
    first = request_reply(resources(app), chat_id, text, requested_by="tests")
    killed_at, worker = _killed_mid_job(settings, "reply",
                                        lambda: any(r.path == MESSAGE_PATH for r in wb_stub.requests))
    cron = start(settings, "-m", "chatcenter.poller")
    try:
        assert wait_until(lambda: _reply(app, first.reply_id).state == ReplyState.SENT, timeout=RECOVERY_BOUND)
        recovered = time.monotonic() - killed_at
        second = request_reply(resources(app), chat_id, "Трек-номер пришлём сегодня.", requested_by="tests")
        assert wait_until(lambda: _reply(app, second.reply_id).state == ReplyState.SENT, timeout=RECOVERY_BOUND)
    finally:
        stop(cron)
        stop(worker)
    assert [m["message"] for m in wb_stub.sent_messages] == [text, "Трек-номер пришлём сегодня."]
    assert wb_stub.delivered(text) == 1
    return recovered


def reply_killed_before_wb_took_it(app, settings, wb_stub) -> float:
    """The worker died while WB held the request without taking it: once WB's feed has gone
    past the send time without the echo (two polls), the reply is sent again, once."""
    chat_id = _synced_chat(app, wb_stub)
    text = "Здравствуйте! Заказ уже в пути."
    wb_stub.delay_next(HANG, path=MESSAGE_PATH)  # held, never taken (cut short when the stub stops)
    first = request_reply(resources(app), chat_id, text, requested_by="tests")
    killed_at, worker = _killed_mid_job(settings, "reply",
                                        lambda: any(r.path == MESSAGE_PATH for r in wb_stub.requests))
    cron = start(settings, "-m", "chatcenter.poller")
    try:
        assert wait_until(lambda: _reply(app, first.reply_id).state == ReplyState.SENT, timeout=RECOVERY_BOUND)
        recovered = time.monotonic() - killed_at
    finally:
        stop(cron)
        stop(worker)
    assert [m["message"] for m in wb_stub.sent_messages] == [text]  # the held request never arrived
    assert wb_stub.delivered(text) == 1
    return recovered
