"""send_reply: send an operator's reply to WB so that the buyer gets exactly one copy.

The reply's state is the guard: it becomes "sending" (committed) before the request
leaves. What a failure means is chatcenter.replies' rule: certainly not delivered ->
"queued" again for the next attempt; maybe delivered -> "unconfirmed", and WB's event feed
(read from the send time) says whether WB took it: its echo makes the reply "sent", its
absence past the margin sends it again; refused -> "failed" with WB's reason. A run that
finds the reply "sending" (its worker died mid-request) or "unconfirmed" settles it the
same way; it never sends blindly.

The reply's text, the chat's reply sign and the buyer's name never go into a message,
a log line or Sentry: WB may quote them back in an error, and that quote is masked.
"""
from __future__ import annotations

import difflib
import logging

from rq import get_current_job

from chatcenter import runtime
from chatcenter.chat_store import store_echo, store_sent_reply, stored_echo
from chatcenter.clients.wb import WBClient, WBError, WBRateLimited, token_problem
from chatcenter.failures import PermanentJobError, TransientJobError
from chatcenter.metrics import Recorder
from chatcenter.models import Chat, Reply, ReplyState, Seller, from_ms, utcnow
from chatcenter.replies import MAX_SENDS, confirm_margin, echo_since, feed_echoes
from chatcenter.wb_events import clean_page

log = logging.getLogger("jobs.reply")

# Seconds to wait for WB's answer to the POST. Past it the reply's fate is unknown and
# WB's feed decides, so this is longer than WB usually needs.
SEND_READ_TIMEOUT = 20.0
FILTERED = "[Filtered]"
ECHO_MIN = 12  # a run this long shared with the reply's text is the text quoted back
FEED_PAGES_MAX = 20  # pages of WB's feed read to settle one reply (the rest: next look)

UNCONFIRMED = "WB's answer was lost ({reason}); checking WB's feed for it before anything is sent again"
NOT_TAKEN_AFTER = "WB's feed shows none of the {sends} requests sent for this reply; not sent again"


class ReplyRejected(PermanentJobError):
    """WB refused the reply (or it cannot be sent at all); sending it again cannot help."""


class ReplyNotTaken(TransientJobError):
    """WB (or our share of its rate limit) certainly did not take the reply this time; try again."""


def send_reply(reply_id: int) -> dict:
    resources = runtime.get()
    with resources.db.session() as session:  # committed before any raise below
        reply = session.get(Reply, reply_id)
        if reply is None:
            raise PermanentJobError(f"reply {reply_id} does not exist")
        if reply.state == ReplyState.SENT:
            return _outcome(reply)
        chat = session.get(Chat, reply.chat_id)
        seller = session.get(Seller, chat.seller_id)
        private = _private_values(reply.text, chat.reply_sign, chat.client_name)
        if reply.state == ReplyState.SENDING:  # the run that sent it died before WB's answer
            reply.state, reply.error = ReplyState.UNCONFIRMED, UNCONFIRMED.format(reason="the sending run stopped")
        elif reply.state == ReplyState.QUEUED and not chat.reply_sign:
            reply.state, reply.error = ReplyState.FAILED, "WB gave no reply sign for this chat yet: sync the seller first"
        elif reply.state == ReplyState.QUEUED and token_problem((seller.wb_token or "").strip()):
            reply.state, reply.error = ReplyState.FAILED, (
                f"seller {seller.id} has no usable WB token: set one with `flask sellers set-token {seller.id}`")
        elif reply.state == ReplyState.QUEUED:
            _start_attempt(reply)
        state, error = reply.state, reply.error or f"reply {reply_id} failed"
        settled_here = state in (ReplyState.UNCONFIRMED, ReplyState.FAILED) and session.is_modified(reply)
        sending = Sending(resources, reply_id, seller.id, seller.wb_token, chat.reply_sign, chat.wb_chat_id,
                          reply.text, private)
    if settled_here:
        count_reply(resources, state)
    if state == ReplyState.FAILED:
        raise ReplyRejected(error)
    if state == ReplyState.UNCONFIRMED:
        return sending.settle()
    return sending.send()


def count_reply(resources, state: str) -> None:
    """chatcenter_replies_total{state}: a reply reached sent, unconfirmed or failed."""
    Recorder(resources.redis).count("replies", state)


def _start_attempt(reply: Reply) -> None:
    reply.state, reply.attempted_at, reply.attempts = ReplyState.SENDING, utcnow(), (reply.attempts or 0) + 1


class Sending:
    """One run's work on one reply: the request, and settling an unconfirmed one."""

    def __init__(self, resources, reply_id, seller_id, token, sign, wb_chat_id, text, private):
        self.resources, self.db, self.reply_id = resources, resources.db, reply_id
        self.seller_id, self.token, self.sign, self.wb_chat_id = seller_id, token, sign, wb_chat_id
        self.text, self.private = text, private

    def client(self, **options) -> WBClient:
        return WBClient.for_seller(self.resources.settings.wb_api_base_url, self.token, self.resources.redis,
                                   self.seller_id, **options)

    def send(self) -> dict:
        """POST the reply (the reply is "sending", committed)."""
        try:
            with self.client(read_timeout=SEND_READ_TIMEOUT) as client:
                answer = client.send_message(self.sign, self.text)
        except WBError as exc:
            return self.after_failure(exc)
        except ValueError as exc:  # the client refused the values before sending anything
            raise self.record(ReplyState.FAILED, ReplyRejected(f"the reply cannot be sent: {exc}")) from None
        with self.db.session(write_lock=True) as session:
            reply = session.get(Reply, self.reply_id)
            sent_at = from_ms(answer.get("addTime")) if isinstance(answer.get("addTime"), int) else utcnow()
            message = store_sent_reply(session, session.get(Chat, reply.chat_id), self.reply_id, reply.text, sent_at)
            reply.state, reply.error, reply.message_id, reply.sent_at = ReplyState.SENT, None, message.id, sent_at
            outcome = _outcome(reply)
        count_reply(self.resources, ReplyState.SENT)
        log.info("reply %s sent to WB and stored as message %s", self.reply_id, outcome["message_id"])
        return outcome

    def after_failure(self, exc: WBError) -> dict:
        """What WB's failure means for the reply (chatcenter.replies' rule)."""
        reason = redact(str(exc), self.private)
        if exc.status == 400:  # refused (moderation): the same request gets the same answer
            log.warning("reply %s: WB refused it: %s", self.reply_id, reason)
            raise self.record(ReplyState.FAILED, ReplyRejected(reason)) from None
        if exc.unsent or isinstance(exc, WBRateLimited) or _not_taken(exc.status):
            log.warning("reply %s: WB did not take it: %s", self.reply_id, reason)
            retry = _retries_left()
            raise self.record(ReplyState.QUEUED if retry else ReplyState.FAILED, ReplyNotTaken(reason),
                              unsent=True, retrying=retry) from None
        log.warning("reply %s: WB's answer was lost (%s); settling it against WB's feed", self.reply_id, reason)
        self.record(ReplyState.UNCONFIRMED, UNCONFIRMED.format(reason=reason))
        return self.settle()

    def record(self, state: str, failure, unsent: bool = False, retrying: bool = False):
        """The reply's new state and public reason; returns `failure` (to raise)."""
        with self.db.session() as session:
            reply = session.get(Reply, self.reply_id)
            reply.state = state
            reply.error = f"retrying: {failure}" if retrying else str(failure)
            if unsent:  # it never reached WB: not one of the requests WB may have taken
                reply.attempts = max(0, (reply.attempts or 0) - 1)
        if state in (ReplyState.UNCONFIRMED, ReplyState.FAILED):
            count_reply(self.resources, state)
        return failure

    def settle(self) -> dict:
        """An unconfirmed reply: sent (WB's feed echoes it), sent again (the feed went past
        the margin without it), or left for the next look (chatcenter.replies.recover_replies)."""
        found = self._from_store()
        if found is not None:
            return found
        try:
            echoes, read_to_end = self._read_feed()
        except WBError as exc:
            log.warning("reply %s: WB's feed could not be read to settle it: %s", self.reply_id,
                        redact(str(exc), self.private))
            return self._current()
        for event in echoes:
            with self.db.session(write_lock=True) as session:
                reply = session.get(Reply, self.reply_id)
                message = store_echo(session, session.get(Chat, reply.chat_id), event)
                if message is not None:
                    return self._confirmed(reply, message)
        if not read_to_end:
            return self._current()
        with self.db.session() as session:
            reply = session.get(Reply, self.reply_id)
            margin = confirm_margin(self.resources.settings.sync_interval_seconds)
            if utcnow() - (reply.attempted_at or reply.created_at) < margin:
                return _outcome(reply)  # WB's feed may still be catching up: the next look decides
            if (reply.attempts or 0) >= MAX_SENDS:
                reply.state, reply.error = ReplyState.FAILED, NOT_TAKEN_AFTER.format(sends=reply.attempts)
                failure = ReplyRejected(reply.error)
            else:
                _start_attempt(reply)
                failure = None
                log.warning("reply %s: WB's feed shows it did not arrive; sending it again (request %s)",
                            self.reply_id, reply.attempts)
        if failure is not None:
            count_reply(self.resources, ReplyState.FAILED)
            raise failure
        return self.send()

    def _from_store(self) -> dict | None:
        """A sync may have stored WB's echo already."""
        with self.db.session(write_lock=True) as session:
            reply = session.get(Reply, self.reply_id)
            if reply.state != ReplyState.UNCONFIRMED:
                return _outcome(reply)
            message = stored_echo(session, session.get(Chat, reply.chat_id), reply.text, echo_since(reply))
            return self._confirmed(reply, message) if message is not None else None

    def _confirmed(self, reply: Reply, message) -> dict:
        reply.state, reply.error, reply.message_id, reply.sent_at = ReplyState.SENT, None, message.id, message.sent_at
        count_reply(self.resources, ReplyState.SENT)
        log.info("reply %s confirmed by WB's feed as message %s", self.reply_id, message.id)
        return _outcome(reply)

    def _read_feed(self) -> tuple[list, bool]:
        """WB's echoes of this text in this chat since the send time, and whether the feed
        was read to its end."""
        with self.db.session() as session:
            since = echo_since(session.get(Reply, self.reply_id))
        at, echoes = int(since.timestamp() * 1000), []
        with self.client() as client:
            for _ in range(FEED_PAGES_MAX):
                page = client.get_events(at)
                raw = page.get("events") or []
                if not page.get("totalEvents") or not raw or page["next"] <= at:
                    return echoes, True
                echoes += feed_echoes(clean_page(raw).events, self.wb_chat_id, self.text)
                at = page["next"]
        return echoes, False

    def _current(self) -> dict:
        with self.db.session() as session:
            return _outcome(session.get(Reply, self.reply_id))


def _not_taken(status: int | None) -> bool:
    """A 4xx other than moderation's refusal (400) or a timeout (408): WB did not take it.
    A refused token (401, 403) is one: retried, it goes out once the token is replaced."""
    return status is not None and 400 <= status < 500 and status not in (400, 408)


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
