"""jobs.reply.send_reply against the WB stub, through real workers: the reply reaches WB
once whatever WB does (5xx, rejection, silence), and is stored as the seller's message
only once WB accepted it. Replies are asked for through the API, as an operator would."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from chatcenter.actions import request_sync
from chatcenter.models import Chat, Message, Reply
from tests.helpers import add_seller, resources, run_jobs, run_worker_process, seed_wb, wait_until
from tests.stubs.wb_stub import MESSAGE_PATH, problem

TEXT = "Здравствуйте! Заказ уже в пути, трек-номер пришлём сегодня."


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


def test_a_5xx_is_retried_and_the_reply_sent_once(job_app, api, chat, wb_stub):
    before = seller_messages(job_app, chat["id"])
    wb_stub.fail_next(500, path=MESSAGE_PATH)
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))

    assert posts_to_wb(wb_stub) == 2  # the 500, then the accepted one
    assert wb_stub.sent_messages == [{"replySign": chat["sign"], "message": TEXT, "files": []}]
    job = api.get(f"/api/jobs/{accepted['job_id']}").get_json()
    assert job["status"] == "finished"
    assert job["result"] == {"reply_id": accepted["reply_id"], "chat_id": chat["id"], "state": "sent",
                             "message_id": job["result"]["message_id"]}
    assert seller_messages(job_app, chat["id"]) == before + [TEXT]
    assert not awaiting(job_app, chat["id"])
    assert reply_row(job_app, accepted["reply_id"]).error is None


def test_a_5xx_then_success_through_the_real_worker_process(job_app, job_settings, api, chat, wb_stub):
    before = seller_messages(job_app, chat["id"])
    wb_stub.fail_next(503, path=MESSAGE_PATH)
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()

    result = run_worker_process(job_settings, "reply")

    assert result.returncode == 0, result.stderr
    assert posts_to_wb(wb_stub) == 2
    assert [m["message"] for m in wb_stub.sent_messages] == [TEXT]
    assert api.get(f"/api/jobs/{accepted['job_id']}").get_json()["status"] == "finished"
    assert seller_messages(job_app, chat["id"]) == before + [TEXT]
    assert not awaiting(job_app, chat["id"])
    assert TEXT not in result.stderr  # ids in the worker's log, never the text


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


def test_a_timeout_is_never_resent(job_app, api, chat, wb_stub, monkeypatch):
    import jobs.reply

    monkeypatch.setattr(jobs.reply, "SEND_READ_TIMEOUT", 0.5)
    before = seller_messages(job_app, chat["id"])
    wb_stub.delay_next(2.0, path=MESSAGE_PATH)  # WB takes the text but answers too late
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))

    job = api.get(f"/api/jobs/{accepted['job_id']}").get_json()
    assert job["status"] == "failed"
    assert job["reason"] == ("WB did not confirm the reply (WB API POST /api/v1/seller/message: read timeout); "
                             "it may have arrived: check the chat before sending it again")
    assert wait_until(lambda: len(wb_stub.sent_messages) == 1, timeout=10)  # it did arrive
    run_jobs(job_app, queues=("reply",))  # running the workers again sends nothing
    assert posts_to_wb(wb_stub) == 1
    assert seller_messages(job_app, chat["id"]) == before  # not stored as sent: WB never said so
    assert reply_row(job_app, accepted["reply_id"]).state == "failed"


def test_a_run_that_finds_the_reply_sending_does_not_send_it_again(job_app, api, chat, wb_stub):
    from jobs.reply import send_reply

    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    with resources(job_app).db.session() as session:  # an earlier run died after handing it to WB
        session.get(Reply, accepted["reply_id"]).state = "sending"
    run_jobs(job_app, queues=("reply",))
    assert posts_to_wb(wb_stub) == 0
    job = api.get(f"/api/jobs/{accepted['job_id']}").get_json()
    assert job["status"] == "failed" and "the previous attempt stopped" in job["reason"]
    with pytest.raises(Exception, match="may have arrived"):  # run by hand: still nothing sent
        send_reply(accepted["reply_id"])
    assert posts_to_wb(wb_stub) == 0


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


def test_retries_used_up_on_5xx_end_failed_with_nothing_stored(job_app, api, chat, wb_stub):
    before = seller_messages(job_app, chat["id"])
    wb_stub.fail_next(502, count=3, path=MESSAGE_PATH)  # the first attempt and both retries
    accepted = api.post(f"/api/chats/{chat['id']}/reply", json={"text": TEXT}).get_json()
    run_jobs(job_app, queues=("reply",))
    assert posts_to_wb(wb_stub) == 3 and wb_stub.sent_messages == []
    job = api.get(f"/api/jobs/{accepted['job_id']}").get_json()
    assert job["status"] == "failed" and "answered 502" in job["reason"]
    assert reply_row(job_app, accepted["reply_id"]).state == "failed"
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
    assert "local rate limit" in job["reason"] and "may have arrived" not in job["reason"]
