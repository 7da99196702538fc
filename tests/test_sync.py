"""The WB sync job against the local WB stub, on real Redis and SQLite/PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rq.job import Job
from sqlalchemy import select

from chatcenter.actions import request_sync
from chatcenter.job_rules import run_now
from chatcenter.leases import Lease
from chatcenter.chat_store import store_sent_reply
from chatcenter.models import Chat, Message, Seller, SyncState, from_ms, utcnow
from chatcenter.queues import SYNC_JOB, queue
from jobs.sync import sync_seller_chats
from tests.helpers import add_seller, overrides, resources, rows, run_jobs, seed_wb


def seller_row(app, seller_id):
    with app.extensions["chatcenter"].db.session() as session:
        return session.get(Seller, seller_id)


def test_sync_adds_exactly_the_stubs_chats_and_messages(job_app, wb_stub):
    seed_wb(wb_stub, chats=3, messages_per_chat=3)  # 9 events over 3 pages of 3
    seller_id = add_seller(job_app)

    result = sync_seller_chats(seller_id)

    assert (result["chats_added"], result["messages_added"]) == (3, 9)
    chats, messages = rows(job_app)
    assert {c[0] for c in chats} == {c["chatID"] for c in wb_stub.chats}
    assert {m[0] for m in messages} == {e["eventID"] for e in wb_stub.events}
    assert all(awaiting for *_, awaiting in chats)  # the buyer spoke last everywhere
    seller = seller_row(job_app, seller_id)
    assert seller.sync_state == SyncState.OK and seller.last_synced_at is not None
    assert seller.events_cursor == wb_stub.events[-1]["addTimestamp"]


def test_second_run_adds_nothing_and_reads_from_the_cursor(job_app, wb_stub):
    seed_wb(wb_stub)
    seller_id = add_seller(job_app)
    sync_seller_chats(seller_id)
    before = rows(job_app)
    wb_stub.reset()

    again = sync_seller_chats(seller_id)

    assert (again["chats_added"], again["messages_added"]) == (0, 0)
    assert rows(job_app) == before
    event_calls = [r for r in wb_stub.requests if r.path.endswith("/events")]
    # One millisecond back from the cursor: events sharing its millisecond are not skipped.
    assert event_calls[0].query.get("next") == str(wb_stub.events[-1]["addTimestamp"] - 1)


def test_new_events_after_a_sync_are_added_once(job_app, wb_stub):
    chats = seed_wb(wb_stub, chats=1, messages_per_chat=2)
    seller_id = add_seller(job_app)
    sync_seller_chats(seller_id)
    wb_stub.add_event(chats[0]["chatID"], text="ещё вопрос", sender="client")

    result = sync_seller_chats(seller_id)

    assert result["messages_added"] == 1
    assert len(rows(job_app)[1]) == 3


def test_a_run_cut_off_midway_ends_with_the_same_rows_as_an_uncut_run(job_app, make_app, job_settings, wb_stub,
                                                                    tmp_path, redis_client):
    seed_wb(wb_stub, chats=4, messages_per_chat=3)  # 12 events, 4 pages
    seller_id = add_seller(job_app)
    wb_stub.fail_after_pages(2)

    with pytest.raises(Exception):
        sync_seller_chats(seller_id)
    # Two whole pages kept, with the cursor past them: 3 events, then 2 new ones (a later page
    # starts again at the cursor's millisecond, and the repeat is dropped).
    assert len(rows(job_app)[1]) == 5
    assert seller_row(job_app, seller_id).sync_state == SyncState.ERROR

    wb_stub.fail_after_pages(None)
    sync_seller_chats(seller_id)
    cut_then_resumed = rows(job_app)

    # An uncut run on a fresh database of the same kind.
    if job_settings.database_url.startswith("sqlite"):
        fresh = make_app(**overrides(job_settings, database_url=f"sqlite:///{tmp_path / 'fresh.db'}"))
    else:
        with job_app.extensions["chatcenter"].db.session() as session:
            for model in (Message, Chat, Seller):
                session.query(model).delete()
        fresh = job_app
    redis_client.delete(f"chatcenter:wb-rate:{seller_id}")  # the fresh seller may reuse the id
    with fresh.app_context():
        sync_seller_chats(add_seller(fresh))
    assert rows(fresh) == cut_then_resumed
    assert len(cut_then_resumed[1]) == 12


def test_sync_enqueues_one_analysis_per_chat_with_a_new_buyer_message(job_app, wb_stub, redis_client):
    chats = seed_wb(wb_stub, chats=2, messages_per_chat=1)
    quiet = wb_stub.add_chat(text="")
    wb_stub.add_event(quiet["chatID"], text="Спасибо, ждём вас снова", sender="seller", is_new_chat=True)
    seller_id = add_seller(job_app)

    result = sync_seller_chats(seller_id)

    assert result["analyses_enqueued"] == 2
    with job_app.extensions["chatcenter"].db.session() as session:
        buyer_chat_ids = set(session.scalars(select(Chat.id).where(Chat.wb_chat_id.in_([c["chatID"] for c in chats]))))
    queued = Job.fetch_many([f"analyze-chat-{i}" for i in buyer_chat_ids], connection=redis_client)
    assert all(job is not None and job.args == (job_id,) for job, job_id in zip(queued, sorted(buyer_chat_ids)))


def test_unauthorised_token_marks_the_seller_and_stops_retrying(job_app, wb_stub, redis_client):
    seller_id = add_seller(job_app, token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3cm9uZyJ9.d3JvbmctdG9rZW4tc2lnbmF0dXJl")
    request_sync(resources(job_app), seller_id)

    run_jobs(job_app)

    seller = seller_row(job_app, seller_id)
    assert seller.sync_state == SyncState.AUTH_ERROR
    assert "401" in seller.last_error
    job = Job.fetch(SYNC_JOB.job_id(seller_id), connection=redis_client)
    assert job.is_failed
    assert len([r for r in wb_stub.requests if r.path.endswith("/chats")]) == 1  # no retry


def test_rate_limited_answer_is_waited_out(job_app, wb_stub):
    seed_wb(wb_stub, chats=1, messages_per_chat=1)
    seller_id = add_seller(job_app)
    wb_stub.fail_next(429, headers={"X-Ratelimit-Retry": "1", "X-Ratelimit-Reset": "1", "X-Ratelimit-Limit": "10"},
                      path="/api/v1/seller/chats")

    result = sync_seller_chats(seller_id)

    assert result["messages_added"] == 1
    assert seller_row(job_app, seller_id).sync_state == SyncState.OK


def test_server_error_is_retried_by_the_worker_and_then_succeeds(job_app, wb_stub, redis_client):
    seed_wb(wb_stub, chats=1, messages_per_chat=2)
    seller_id = add_seller(job_app)
    wb_stub.fail_next(500, path="/api/v1/seller/chats")
    request_sync(resources(job_app), seller_id)

    run_jobs(job_app, queues=("sync",))

    job = Job.fetch(SYNC_JOB.job_id(seller_id), connection=redis_client)
    assert job.is_finished
    assert job.return_value()["messages_added"] == 2
    assert seller_row(job_app, seller_id).sync_state == SyncState.OK


def test_second_request_while_queued_is_a_noop_that_says_so(job_app, redis_client):
    seller_id = add_seller(job_app)
    first = request_sync(resources(job_app), seller_id)
    second = request_sync(resources(job_app), seller_id)

    assert first.created and not second.created
    assert "already queued or running" in second.message
    assert len(queue(redis_client, "sync")) == 1
    assert redis_client.llen("rq:queue:chatcenter:sync") == 1  # named with the project's prefix


def test_a_sync_running_elsewhere_makes_another_do_nothing(job_app, wb_stub, redis_client):
    seller_id = add_seller(job_app)
    job_id = SYNC_JOB.job_id(seller_id)
    held = Lease(redis_client, job_id)
    assert held.acquire()
    try:
        result = run_now(redis_client, job_id, sync_seller_chats, seller_id)
    finally:
        held.release()
    assert result["skipped"] == f"another run of {job_id} is in progress"
    assert wb_stub.requests == []


def test_job_arguments_are_ids_only(job_app, redis_client):
    seller_id = add_seller(job_app)
    request_sync(resources(job_app), seller_id)
    job = Job.fetch(SYNC_JOB.job_id(seller_id), connection=redis_client)
    assert job.args == (seller_id,) and job.kwargs == {}
    assert job.description == "jobs.sync.sync_seller_chats"
    raw = b"".join(v if isinstance(v, bytes) else b"" for v in redis_client.hgetall(job.key).values())
    assert b"eyJ" not in raw


def test_a_sent_reply_the_feed_reports_is_kept_once_under_wbs_event_id(job_app, wb_stub):
    chat = seed_wb(wb_stub, chats=1, messages_per_chat=1)[0]
    seller_id = add_seller(job_app)
    sync_seller_chats(seller_id)
    text = "Ответ: «посылка» уже в пути"
    with resources(job_app).db.session() as session:
        stored = session.scalar(select(Chat).where(Chat.wb_chat_id == chat["chatID"]))
        store_sent_reply(session, stored, reply_id=77, text=text, sent_at=utcnow())
    event = wb_stub.add_event(chat["chatID"], text=text, sender="seller")  # WB's feed shows our reply

    result = sync_seller_chats(seller_id)

    assert result["messages_added"] == 0
    with resources(job_app).db.session() as session:
        sent = session.execute(select(Message.wb_event_id, Message.text).where(Message.sender == "seller")).all()
    assert [tuple(row) for row in sent] == [(event["eventID"], text)]


def test_texts_names_and_cards_are_stored_exactly_as_wb_sent_them(job_app, wb_stub):
    """Quotes, backslashes, line breaks, emoji and JSON-looking text survive the bulk
    statements (PostgreSQL's rows travel as one JSON parameter)."""
    chat = wb_stub.add_chat(client_name='Анна "Ш" \\ О\'Нил')
    chat["goodCard"]["size"] = 'XL "oversize" \\ 😀'
    texts = ['кавычки " и \\ обратная косая черта', "строка 1\nстрока 2\tтабуляция", "эмодзи 😀 и ascii",
             '{"json": [1, 2], "null": null}', "'; DROP TABLE messages; --"]
    for n, text in enumerate(texts):
        wb_stub.add_event(chat["chatID"], text=text, sender="client", is_new_chat=(n == 0),
                          attachments={"images": [f"https://example.test/{n}\\\"x\".jpg"]} if n == 1 else None)
    seller_id = add_seller(job_app)

    assert sync_seller_chats(seller_id)["messages_added"] == len(texts)

    with resources(job_app).db.session() as session:
        stored = session.scalar(select(Chat).where(Chat.wb_chat_id == chat["chatID"]))
        messages = session.scalars(select(Message).where(Message.chat_id == stored.id).order_by(Message.sent_at))
        assert [m.text for m in messages] == texts
        attached = session.scalar(select(Message.attachments).where(Message.chat_id == stored.id,
                                                                    Message.text == texts[1]))
        assert (stored.client_name, stored.good_card["size"], attached) == (
            'Анна "Ш" \\ О\'Нил', 'XL "oversize" \\ 😀', {"images": ['https://example.test/1\\"x".jpg']})
        assert stored.awaiting_reply and stored.last_message_at == max(m.sent_at for m in stored.messages)


def test_a_reply_whose_feed_event_a_sync_stored_first_is_not_stored_again(job_app, wb_stub):
    """The race the soak found: WB accepts a reply, a running sync stores its feed event,
    and only then does the reply job store the reply."""
    chat = seed_wb(wb_stub, chats=1, messages_per_chat=1)[0]
    seller_id = add_seller(job_app)
    text = "Спасибо за заказ!"
    # An earlier answer in the same words, ten minutes before: a message of its own.
    old = wb_stub.add_event(chat["chatID"], text=text, sender="seller",
                            add_timestamp=wb_stub.events[-1]["addTimestamp"] - 600_000)
    sync_seller_chats(seller_id)
    event = wb_stub.add_event(chat["chatID"], text=text, sender="seller")
    sync_seller_chats(seller_id)  # the feed's copy first

    with resources(job_app).db.session() as session:
        stored = session.scalar(select(Chat).where(Chat.wb_chat_id == chat["chatID"]))
        message = store_sent_reply(session, stored, reply_id=5, text=text, sent_at=from_ms(event["addTimestamp"]))
        assert message.wb_event_id == event["eventID"]
        # Nothing from the feed matches a later send: stored as sent, waiting for the feed.
        again = store_sent_reply(session, stored, reply_id=6, text=text, sent_at=utcnow() + timedelta(hours=1))
        assert again.wb_event_id == "reply:6"
    with resources(job_app).db.session() as session:
        ids = sorted(session.scalars(select(Message.wb_event_id).where(Message.sender == "seller")))
    assert ids == sorted([old["eventID"], event["eventID"], "reply:6"])
