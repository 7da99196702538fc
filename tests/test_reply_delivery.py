"""A reply through WB's and Redis's faults, with real processes: WB refusing connections for
20 s, Redis restarted without its data, and the reply job racing a sync that stores WB's
echo of the same reply. Each ends with exactly one copy at WB and one stored message."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from chatcenter.actions import request_reply, request_sync
from chatcenter.models import Chat, Message, Reply, utcnow
from jobs.reply import send_reply
from jobs.sync import sync_seller_chats
from tests.helpers import add_seller, overrides, resources, run_jobs, seed_wb, start_process, wait_until
from tests.stubs.wb_stub import MESSAGE_PATH
from tests.test_processes import stop

TEXT = "Здравствуйте! Вернём деньги за куртку в течение трёх дней."


@pytest.fixture
def chat_id(job_app, wb_stub) -> int:
    seller = add_seller(job_app)
    seed_wb(wb_stub, chats=1)
    request_sync(resources(job_app), seller)
    run_jobs(job_app, queues=("sync",))
    with resources(job_app).db.session() as session:
        return session.scalars(select(Chat.id)).one()


def reply_state(app, reply_id) -> tuple[str, str | None]:
    with resources(app).db.session() as session:
        reply = session.get(Reply, reply_id)
        return reply.state, reply.error


def stored_copies(app, chat_id, text=TEXT) -> int:
    with resources(app).db.session() as session:
        return len(session.scalars(select(Message.id).where(Message.chat_id == chat_id, Message.text == text)).all())


def test_wb_refusing_connections_for_20_s_gets_the_reply_once_it_is_back(job_app, job_settings, make_app, chat_id,
                                                                         wb_stub):
    settings = replace(job_settings, job_retry_delays=(10, 15))  # tries at about 0, 10 and 25 s
    web = make_app(**overrides(settings))  # the delays go with the job when it is enqueued
    wb_stub.go_down()
    reply = request_reply(resources(web), chat_id, TEXT, requested_by="tests")
    worker = start_process(settings, "worker.py", "reply")
    try:
        assert wait_until(lambda: reply_state(job_app, reply.reply_id)[1] is not None, timeout=30)
        state, error = reply_state(job_app, reply.reply_id)
        assert state == "queued"  # certainly not delivered: tried again, the text kept
        assert error.startswith("retrying: WB API unavailable") or error.startswith("retrying: WB API POST")
        assert "could not connect" in error
        time.sleep(20 - 1)
        wb_stub.come_back()
        sent = wait_until(lambda: reply_state(job_app, reply.reply_id)[0] == "sent", timeout=40)
    finally:
        output = stop(worker)
    assert sent, output
    assert wb_stub.delivered(TEXT) == 1, output
    assert [r.path for r in wb_stub.requests].count(MESSAGE_PATH) == 1  # the refused ones never arrived
    assert stored_copies(job_app, chat_id) == 1


def test_a_queued_reply_whose_job_redis_lost_is_sent_by_the_pollers_recovery(job_app, job_settings, chat_id,
                                                                           wb_stub, redis_client):
    settings = replace(job_settings, sync_interval_seconds=1)
    reply = request_reply(resources(job_app), chat_id, TEXT, requested_by="tests")
    with resources(job_app).db.session() as session:  # recorded a while ago, before the restart
        session.get(Reply, reply.reply_id).created_at = utcnow() - timedelta(minutes=5)
    redis_client.flushdb()  # Redis restarted without its data: the job is gone
    poller = start_process(settings, "-m", "chatcenter.poller")
    worker = start_process(settings, "worker.py", "reply")
    try:
        assert wait_until(lambda: reply_state(job_app, reply.reply_id)[0] == "sent", timeout=40)
    finally:
        logged = stop(poller)
        stop(worker)
    assert f"replies {reply.reply_id} had no live job; enqueued again" in logged
    assert wb_stub.delivered(TEXT) == 1 and stored_copies(job_app, chat_id) == 1


def test_the_reply_job_and_a_sync_storing_its_echo_at_once_store_it_once(job_app, chat_id, wb_stub):
    """Both check for the other's row, then insert: on SQLite that raced every time before
    the write lock was taken at the start of both transactions."""
    seller_id = add_seller_id(job_app, chat_id)
    reply = request_reply(resources(job_app), chat_id, TEXT, requested_by="tests")
    wb_stub.add_event(wb_stub.chats[0]["chatID"], TEXT, sender="seller")  # WB's echo, in the feed already
    wb_stub.fail_next(200, path=MESSAGE_PATH, body={"result": {"addTime": wb_stub.events[-1]["addTimestamp"]},
                                                    "errors": []})  # WB's answer to the POST
    # Each side holds at its first INSERT into messages until the other is there too (or 3 s).
    engine = resources(job_app).db.engine
    meet, held = threading.Barrier(2, timeout=3), set()

    def hold(conn, cursor, statement, *args):
        me = threading.current_thread().name
        if statement.startswith("INSERT INTO messages") and me in ("reply", "sync") and me not in held:
            held.add(me)
            try:
                meet.wait()
            except threading.BrokenBarrierError:
                pass  # the other waits for our lock: nothing to meet

    errors = []

    def run(name, job, arg):
        def body():
            with job_app.app_context():
                try:
                    job(arg)
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append((name, exc))
        return threading.Thread(target=body, name=name)

    event.listen(engine, "before_cursor_execute", hold)
    try:
        threads = [run("reply", send_reply, reply.reply_id), run("sync", sync_seller_chats, seller_id)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        event.remove(engine, "before_cursor_execute", hold)
    assert errors == []
    assert stored_copies(job_app, chat_id) == 1
    with resources(job_app).db.session() as session:
        stored = session.get(Reply, reply.reply_id)
        assert stored.state == "sent"
        assert session.get(Message, stored.message_id).wb_event_id == wb_stub.events[-1]["eventID"]


def add_seller_id(app, chat_id) -> int:
    with resources(app).db.session() as session:
        return session.get(Chat, chat_id).seller_id


def test_a_reply_refused_for_its_token_is_sent_once_the_token_works(job_app, job_settings, make_app, chat_id,
                                                                   wb_stub):
    """A 401 means WB took nothing: the reply is retried with the text kept, and goes out
    once WB accepts the token again (an operator ran `sellers set-token`)."""
    settings = replace(job_settings, job_retry_delays=(3, 6))
    web = make_app(**overrides(settings))
    tokens = set(wb_stub.valid_tokens)
    wb_stub.valid_tokens.clear()  # WB refuses the seller's token
    reply = request_reply(resources(web), chat_id, TEXT, requested_by="tests")
    worker = start_process(settings, "worker.py", "reply")
    try:
        assert wait_until(lambda: reply_state(job_app, reply.reply_id)[1] is not None, timeout=30)
        state, error = reply_state(job_app, reply.reply_id)
        assert state == "queued" and error.startswith("retrying: ") and "401" in error
        wb_stub.valid_tokens.update(tokens)
        sent = wait_until(lambda: reply_state(job_app, reply.reply_id)[0] == "sent", timeout=40)
    finally:
        output = stop(worker)
    assert sent, output
    assert wb_stub.delivered(TEXT) == 1, output
    assert stored_copies(job_app, chat_id) == 1
