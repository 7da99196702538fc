"""send_reply: send an operator's reply to WB, at most once, and store it once WB accepts.

The reply's state is the guard against sending twice: it becomes "sending" (committed)
before the request leaves. A run that finds "sending" cannot know whether WB got the
text (the worker died, or WB did not answer), so it fails with a reason instead of
sending again; WB's own answers (4xx, 5xx, 429) and our own rate limit say it was not
taken, and the reply goes back to "queued" for the next attempt when one is left.

The reply's text, the chat's reply sign and the buyer's name never go into a message,
a log line or Sentry: WB may quote them back in an error, and that quote is masked.
"""
from __future__ import annotations

import difflib
import logging

from rq import get_current_job

from chatcenter import runtime
from chatcenter.chat_store import store_sent_reply
from chatcenter.clients.wb import WBClient, WBError, WBRateLimited, token_problem
from chatcenter.failures import PermanentJobError, TransientJobError
from chatcenter.models import Chat, Reply, ReplyState, Seller, from_ms, utcnow

log = logging.getLogger("jobs.reply")

# Seconds to wait for WB's answer to the POST. Past it the reply's fate is unknown and
# it is never sent again, so this is longer than WB usually needs.
SEND_READ_TIMEOUT = 20.0
FILTERED = "[Filtered]"
ECHO_MIN = 12  # a run this long shared with the reply's text is the text quoted back

UNCONFIRMED = ("WB did not confirm the reply ({reason}); it may have arrived: "
               "check the chat before sending it again")


class ReplyRejected(PermanentJobError):
    """WB refused the reply (or it cannot be sent at all); sending it again cannot help."""


class ReplyUnconfirmed(PermanentJobError):
    """WB may have the reply; it is not sent again."""


class ReplyNotTaken(TransientJobError):
    """WB (or our share of its rate limit) did not take the reply this time; try again."""


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
        private = _private_values(reply.text, chat.reply_sign, chat.client_name)
        failure = ReplyUnconfirmed if reply.state == ReplyState.SENDING else ReplyRejected
        if reply.state == ReplyState.SENDING:
            reply.state, reply.error = ReplyState.FAILED, UNCONFIRMED.format(reason="the previous attempt stopped")
        elif reply.state == ReplyState.QUEUED and not chat.reply_sign:
            reply.state, reply.error = ReplyState.FAILED, "WB gave no reply sign for this chat yet: sync the seller first"
        elif reply.state == ReplyState.QUEUED and token_problem((seller.wb_token or "").strip()):
            reply.state, reply.error = ReplyState.FAILED, (
                f"seller {seller.id} has no usable WB token: set one with `flask sellers set-token {seller.id}`")
        elif reply.state == ReplyState.QUEUED:
            reply.state = ReplyState.SENDING
        state, error = reply.state, reply.error or f"reply {reply_id} failed"
        sign, text, token, seller_id = chat.reply_sign, reply.text, seller.wb_token, seller.id
    if state == ReplyState.FAILED:
        raise failure(error)

    try:
        with WBClient.for_seller(resources.settings.wb_api_base_url, token, resources.redis, seller_id,
                                 read_timeout=SEND_READ_TIMEOUT) as client:
            answer = client.send_message(sign, text)
    except WBError as exc:
        raise _not_sent(db, reply_id, exc, private) from None
    except ValueError as exc:  # the client refused the values before sending anything
        raise _record_failure(db, reply_id, ReplyRejected(f"the reply cannot be sent: {exc}")) from None

    with db.session() as session:
        reply = session.get(Reply, reply_id)
        sent_at = from_ms(answer.get("addTime")) if isinstance(answer.get("addTime"), int) else utcnow()
        message = store_sent_reply(session, session.get(Chat, reply.chat_id), reply_id, reply.text, sent_at)
        reply.state, reply.error, reply.message_id, reply.sent_at = ReplyState.SENT, None, message.id, sent_at
        outcome = _outcome(reply)
    log.info("reply %s sent to WB and stored as message %s", reply_id, outcome["message_id"])
    return outcome


def _not_sent(db, reply_id: int, exc: WBError, private: list[str]) -> Exception:
    """Record why WB did not take the reply (or may not have); the exception to raise."""
    reason = redact(str(exc), private)
    if exc.status is None and not isinstance(exc, WBRateLimited):
        # No answer from WB: the text may or may not have arrived. Never sent again.
        failure: Exception = ReplyUnconfirmed(UNCONFIRMED.format(reason=reason))
    elif exc.transient:  # WB answered 429/5xx, or our rate limit held it back: not taken
        failure = ReplyNotTaken(reason)
    else:
        failure = ReplyRejected(reason)
    log.warning("reply %s: WB did not take it: %s", reply_id, reason)
    return _record_failure(db, reply_id, failure)


def _record_failure(db, reply_id: int, failure: Exception) -> Exception:
    with db.session() as session:
        reply = session.get(Reply, reply_id)
        if isinstance(failure, ReplyNotTaken) and _retries_left():
            reply.state, reply.error = ReplyState.QUEUED, f"retrying: {failure}"
        else:
            reply.state, reply.error = ReplyState.FAILED, str(failure)
    return failure


def _private_values(text: str, sign: str | None, client_name: str | None) -> list[str]:
    """What WB could quote back, to be masked in what the job says of WB's answer."""
    values = [text, sign or "", client_name or "", *(client_name or "").split()]
    return [v for v in values if len(v) >= 4]


def redact(message: str, private: list[str]) -> str:
    """`message` with each private value, and any long run of one of them (a quote WB
    shortened), masked."""
    for value in sorted(private, key=len, reverse=True):
        message = message.replace(value, FILTERED)
    for value in private:
        matcher = difflib.SequenceMatcher(None, message, value, autojunk=False)
        for block in reversed([b for b in matcher.get_matching_blocks() if b.size >= ECHO_MIN]):
            message = message[:block.a] + FILTERED + message[block.a + block.size:]
    return message


def _retries_left() -> bool:
    job = get_current_job()
    return bool(job is not None and job.retries_left)


def _outcome(reply: Reply) -> dict:
    return {"reply_id": reply.id, "chat_id": reply.chat_id, "state": reply.state, "message_id": reply.message_id}
