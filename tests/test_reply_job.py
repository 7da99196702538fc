"""jobs.reply.send_reply against the WB stub, through real workers: the reply reaches WB
exactly once whatever WB does (a 5xx before or after taking it, a refusal, silence), and is
stored as the seller's message once. Replies are asked for through the API, as an operator
would. `wb_stub.delivered(text)` counts the copies WB holds: what the buyer sees."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from chatcenter.actions import request_sync
from chatcenter.models import Chat, Message, Reply
from chatcenter.replies import recover_replies
from tests.helpers import add_seller, resources, run_jobs, run_worker_process, seed_wb
from tests.stubs.wb_stub import MESSAGE_PATH, problem

TEXT = "Здравствуйте! Заказ уже в пути, трек-номер пришлём сегодня."


MARGIN = 2.0  # seconds: two polls at SYNC_INTERVAL_SECONDS=1 (chatcenter.replies.confirm_margin)


@pytest.fixture
def job_settings(job_settings):
    return replace(job_settings, sync_interval_seconds=1)


def next_look(app) -> None:
    """The poller's recovery step once the margin has passed: an unconfirmed reply's next look."""
    time.sleep(MARGIN + 0.2)
    recover_replies(resources(app))
    run_jobs(app, queues=("reply",))


@pytest.fixture
def chat(job_app, wb_stub) -> dict:
    """One synced chat whose buyer waits for an answer; WB gave its reply sign."""
    seller = add_seller(job_app)
    [wb_chat] = seed_wb(wb_stub, chats=1)
    request_sync(resources(job_app), seller)
    run_jobs(job_app, queues=("sync",))
    with resources(job_app).db.session() as session:
        row = session.scalars(select(Chat)).one()
        assert row.awaiting_reply and row.reply_sign == wb_chat["replySign"]
        return {"id": row.id, "sign": row.reply_sign}


@pytest.fixture
def api(job_app, make_api):
    return make_api(job_app)


def posts_to_wb(wb_stub) -> int:
    return [r.path for r in wb_stub.requests].count(MESSAGE_PATH)


def seller_messages(app, chat_id) -> list[str]:
    with resources(app).db.session() as session:
        return list(session.scalars(select(Message.text).where(Message.chat_id == chat_id,
                                                               Message.sender == "seller").order_by(Message.id)))


def reply_row(app, reply_id) -> Reply:
    with resources(app).db.session() as session:
        return session.get(Reply, reply_id)


def awaiting(app, chat_id) -> bool:
    with resources(app).db.session() as session:
        return session.get(Chat, chat_id).awaiting_reply


def test_a_5xx_that_wb_did_not_take_is_sent_again_once_the_feed_shows_it_missing(job_app, api, chat, wb_stub):
    before = seller_messages(job_app, chat["id"])
    wb_stub.fail_next(500, path=MESSAGE_PATH)  # WB's gateway failed before WB took it
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))

    assert posts_to_wb(wb_stub) == 1  # not sent again blindly
    [pending] = api.get(f"/api/chats/{chat['id']}").get_json()["pending_replies"]
    assert (pending["state"], pending["text"]) == ("unconfirmed", TEXT)
    assert pending["error"].startswith("WB's answer was lost (WB API unavailable: POST /api/v1/seller/message "
                                       "answered 500")
    run_jobs(job_app, queues=("reply",))  # another run before the margin: still nothing sent
    assert posts_to_wb(wb_stub) == 1

    next_look(job_app)  # the feed went past the send time without WB's echo: WB did not take it
    assert posts_to_wb(wb_stub) == 2 and wb_stub.delivered(TEXT) == 1
    job = api.get(f"/api/jobs/{accepted['job_id']}").get_json()
    assert job["status"] == "finished" and job["result"]["state"] == "sent"
    assert seller_messages(job_app, chat["id"]) == before + [TEXT]
    assert not awaiting(job_app, chat["id"])
    assert reply_row(job_app, accepted["reply_id"]).error is None


def test_a_504_after_wb_took_it_is_settled_from_the_feed_through_the_real_worker_process(
        job_app, job_settings, api, chat, wb_stub):
    before = seller_messages(job_app, chat["id"])
    wb_stub.accept_then_fail_next(504)
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()

    result = run_worker_process(job_settings, "reply")

    assert result.returncode == 0, result.stderr
    assert posts_to_wb(wb_stub) == 1 and wb_stub.delivered(TEXT) == 1  # the buyer got it once
    job = api.get(f"/api/jobs/{accepted['job_id']}").get_json()
    assert job["status"] == "finished" and job["result"]["state"] == "sent"
    assert seller_messages(job_app, chat["id"]) == before + [TEXT]
    with resources(job_app).db.session() as session:  # linked to WB's own event
        reply = session.get(Reply, accepted["reply_id"])
        assert session.get(Message, reply.message_id).wb_event_id == wb_stub.events[-1]["eventID"]
    request_sync(resources(job_app), add_seller_id(job_app, chat["id"]))  # the sync reads the echo: nothing new
    run_jobs(job_app, queues=("sync",))
    assert seller_messages(job_app, chat["id"]) == before + [TEXT]
    assert not awaiting(job_app, chat["id"])
    assert TEXT not in result.stderr  # ids in the worker's log, never the text


def add_seller_id(app, chat_id) -> int:
    with resources(app).db.session() as session:
        return session.get(Chat, chat_id).seller_id


def test_a_wb_rejection_stores_nothing_and_fails_with_a_public_reason(job_app, api, chat, wb_stub):
    before = seller_messages(job_app, chat["id"])
    wb_stub.fail_next(400, path=MESSAGE_PATH, body=problem(400, "message contains forbidden words", "bad request"))
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))

    assert posts_to_wb(wb_stub) == 1  # a rejection is not retried
    assert wb_stub.sent_messages == []
    job = api.get(f"/api/jobs/{accepted['job_id']}").get_json()
    assert job["status"] == "failed"
    assert job["reason"].startswith(
        "WB API POST /api/v1/seller/message answered 400: bad request: message contains forbidden words (requestId ")
    assert seller_messages(job_app, chat["id"]) == before
    assert awaiting(job_app, chat["id"])
    [pending] = api.get(f"/api/chats/{chat['id']}").get_json()["pending_replies"]
    assert (pending["state"], pending["error"]) == ("failed", job["reason"])


def test_a_moderation_refusal_fails_with_wbs_reason_and_keeps_the_text(job_app, api, chat, wb_stub):
    refusal = {"result": None, "errors": ["сообщение содержит запрещённые контактные данные"]}
    wb_stub.fail_next(400, path=MESSAGE_PATH, body=refusal)
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))

    assert posts_to_wb(wb_stub) == 1 and wb_stub.delivered(TEXT) == 0
    [pending] = api.get(f"/api/chats/{chat['id']}").get_json()["pending_replies"]
    assert pending["state"] == "failed" and pending["text"] == TEXT
    assert pending["error"] == ("WB API POST /api/v1/seller/message answered 400: "
                                "сообщение содержит запрещённые контактные данные")


def test_a_repeated_idempotency_key_sends_once(job_app, api, chat, wb_stub):
    headers = {"Idempotency-Key": "7d0c1c5e-1111-4a4a-9b9b-000000000001"}
    first = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}, headers=headers).get_json()
    second = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}, headers=headers).get_json()
    run_jobs(job_app, queues=("reply",))
    third = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}, headers=headers)  # after it was sent
    run_jobs(job_app, queues=("reply",))

    assert first == second
    assert third.get_json() == {**first, "state": "sent"} and third.headers["Idempotent-Replayed"] == "true"
    assert posts_to_wb(wb_stub) == 1
    assert seller_messages(job_app, chat["id"]).count(TEXT) == 1


def test_an_answer_slower_than_the_timeout_after_wb_took_it_is_sent_once(job_app, api, chat, wb_stub, monkeypatch):
    import jobs.reply

    monkeypatch.setattr(jobs.reply, "SEND_READ_TIMEOUT", 0.5)
    before = seller_messages(job_app, chat["id"])
    wb_stub.accept_then_hang_next(3.0)  # WB takes the text but answers too late
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))

    assert reply_row(job_app, accepted["reply_id"]).state == "sent"  # WB's feed had it
    next_look(job_app)  # nothing is open: nothing more is sent
    assert posts_to_wb(wb_stub) == 1 and wb_stub.delivered(TEXT) == 1
    assert seller_messages(job_app, chat["id"]) == before + [TEXT]


@pytest.mark.parametrize("wb_has_it", [True, False])
def test_a_run_that_finds_the_reply_sending_settles_it_from_the_feed(job_app, api, chat, wb_stub, wb_has_it):
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    with resources(job_app).db.session() as session:  # an earlier run died after handing it to WB
        reply = session.get(Reply, accepted["reply_id"])
        reply.state, reply.attempts, reply.attempted_at = "sending", 1, reply.created_at
    if wb_has_it:
        wb_stub.add_event(wb_stub.chats[0]["chatID"], TEXT, sender="seller")
    run_jobs(job_app, queues=("reply",))
    assert posts_to_wb(wb_stub) == 0  # never sent blindly
    assert reply_row(job_app, accepted["reply_id"]).state == ("sent" if wb_has_it else "unconfirmed")

    next_look(job_app)
    assert reply_row(job_app, accepted["reply_id"]).state == "sent"
    assert posts_to_wb(wb_stub) == (0 if wb_has_it else 1) and wb_stub.delivered(TEXT) == 1
    assert seller_messages(job_app, chat["id"]).count(TEXT) == 1


def test_a_chat_without_a_reply_sign_fails_without_sending(job_app, api, wb_stub):
    seller = add_seller(job_app)
    with resources(job_app).db.session() as session:
        row = Chat(seller_id=seller, wb_chat_id="1:no-sign", awaiting_reply=True, analysis_due=False, priority=1)
        session.add(row)
        session.flush()
        chat_id = row.id
    accepted = api.post(f"/api/chats/{chat_id}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))
    job = api.get(f"/api/jobs/{accepted['job_id']}").get_json()
    assert (job["status"], job["reason"]) == ("failed", "WB gave no reply sign for this chat yet: sync the seller first")
    assert posts_to_wb(wb_stub) == 0


def test_wb_failing_every_request_gets_at_most_three_and_then_the_reply_fails(job_app, api, chat, wb_stub):
    before = seller_messages(job_app, chat["id"])
    wb_stub.fail_next(502, count=10, path=MESSAGE_PATH)  # WB's gateway fails and takes nothing
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))
    for _ in range(3):
        next_look(job_app)
    assert posts_to_wb(wb_stub) == 3 and wb_stub.delivered(TEXT) == 0
    reply = reply_row(job_app, accepted["reply_id"])
    assert reply.state == "failed"
    assert reply.error == "WB's feed shows none of the 3 requests sent for this reply; not sent again"
    assert seller_messages(job_app, chat["id"]) == before


def test_wb_quoting_the_text_back_is_masked_in_the_reason(job_app, api, chat, wb_stub):
    quote = f"message '{TEXT[:40]}' for {chat['sign']} rejected"  # a shortened quote, and the sign
    wb_stub.fail_next(400, path=MESSAGE_PATH, body=problem(400, quote, "bad request"))
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))
    reason = api.get(f"/api/jobs/{accepted['job_id']}").get_json()["reason"]
    assert "bad request: message '[Filtered]' for [Filtered] rejected" in reason
    assert TEXT[:12] not in reason and chat["sign"] not in reason
    assert reply_row(job_app, accepted["reply_id"]).error == reason


def test_held_back_by_our_own_rate_limit_is_not_sent_and_not_called_unconfirmed(job_app, api, chat, wb_stub):
    from chatcenter.clients.ratelimit import RedisRateLimiter
    from chatcenter.config import REDIS_PREFIX

    with resources(job_app).db.session() as session:
        seller_id = session.get(Chat, chat["id"]).seller_id
    redis = resources(job_app).redis
    RedisRateLimiter(redis, f"{REDIS_PREFIX}wb-rate:{seller_id}").block_for(300)  # as after WB's long 429
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))
    assert posts_to_wb(wb_stub) == 0
    job = api.get(f"/api/jobs/{accepted['job_id']}").get_json()
    assert job["status"] == "failed"
    assert "local rate limit" in job["reason"] and "answer was lost" not in job["reason"]
