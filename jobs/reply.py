"""send_reply: send an operator's reply to WB, at most once, and store it once WB accepts.

The reply's state is the guard against sending twice: it becomes "sending" (committed)
before the request leaves. A run that finds "sending" cannot know whether WB got the
text (the worker died, or WB did not answer), so it fails with a reason instead of
sending again; WB's own answers (4xx, 5xx, 429) say it was not taken, and the reply
goes back to "queued" for the next attempt.
"""
from __future__ import annotations

import logging

from rq import get_current_job

from chatcenter import runtime
from chatcenter.chat_store import store_sent_reply
from chatcenter.clients.wb import WBClient, WBError
from chatcenter.failures import PermanentJobError
from chatcenter.models import Chat, Reply, ReplyState, Seller, from_ms, utcnow

log = logging.getLogger("jobs.reply")

UNCONFIRMED = ("WB did not confirm the reply ({reason}); it may have arrived: "
               "check the chat before sending it again")


def send_reply(reply_id: int) -> dict:
    resources = runtime.get()
    db = resources.db
    with db.session() as session:  # committed before any raise below
        reply = session.get(Reply, reply_id)
        if reply is None:
            raise PermanentJobError(f"reply {reply_id} does not exist")
        if reply.state == ReplyState.SENT:
            return _outcome(reply)
        chat = session.get(Chat, reply.chat_id)
        seller = session.get(Seller, chat.seller_id)
        if reply.state == ReplyState.SENDING:
            reply.state, reply.error = ReplyState.FAILED, UNCONFIRMED.format(reason="the previous attempt stopped")
        elif reply.state == ReplyState.QUEUED and not chat.reply_sign:
            reply.state, reply.error = ReplyState.FAILED, "WB gave no reply sign for this chat yet: sync the seller first"
        elif reply.state == ReplyState.QUEUED:
            reply.state = ReplyState.SENDING
        state, error = reply.state, reply.error or f"reply {reply_id} failed"
        sign, text, token, seller_id = chat.reply_sign, reply.text, seller.wb_token, seller.id
    if state == ReplyState.FAILED:
        raise PermanentJobError(error)

    try:
        with WBClient.for_seller(resources.settings.wb_api_base_url, token, resources.redis, seller_id) as client:
            answer = client.send_message(sign, text)
    except WBError as exc:
        _after_refusal(db, reply_id, exc)
        if exc.status is None:  # never sent twice: no retry
            raise PermanentJobError(UNCONFIRMED.format(reason=str(exc))) from None
        raise

    with db.session() as session:
        reply = session.get(Reply, reply_id)
        sent_at = from_ms(answer.get("addTime")) if isinstance(answer.get("addTime"), int) else utcnow()
        message = store_sent_reply(session, session.get(Chat, reply.chat_id), reply_id, reply.text, sent_at)
        reply.state, reply.error, reply.message_id, reply.sent_at = ReplyState.SENT, None, message.id, sent_at
        outcome = _outcome(reply)
    log.info("reply %s sent to WB and stored as message %s", reply_id, outcome["message_id"])
    return outcome


def _after_refusal(db, reply_id: int, exc: WBError) -> None:
    """Record why WB did not take the reply (or may not have)."""
    with db.session() as session:
        reply = session.get(Reply, reply_id)
        if exc.status is None:  # no answer from WB: the text may or may not have arrived
            reply.state, reply.error = ReplyState.FAILED, UNCONFIRMED.format(reason=str(exc))
        elif exc.transient and _retries_left():  # WB answered 429/5xx: not taken, try again
            reply.state, reply.error = ReplyState.QUEUED, f"retrying: {exc}"
        else:
            reply.state, reply.error = ReplyState.FAILED, str(exc)
    log.warning("reply %s: WB did not take it: %s", reply_id, exc)


def _retries_left() -> bool:
    job = get_current_job()
    return bool(job is not None and job.retries_left)


def _outcome(reply: Reply) -> dict:
    return {"reply_id": reply.id, "chat_id": reply.chat_id, "state": reply.state, "message_id": reply.message_id}
