"""What operators ask for (sync a seller, analyse a chat, send a reply), for the API, the
inbox pages and the CLI alike: checked, recorded and handed to a job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from chatcenter.attachments import Upload, reply_file_digests, store_reply_files
from chatcenter.chat_status import assign_if_unassigned, who
from chatcenter.errors import BadInput, Conflict, NotFound, Unprocessable
from chatcenter.failures import PermanentJobError
from chatcenter.models import Chat, Reply, ReplyState, Seller, utcnow
from chatcenter.moderation import EMAIL, LINK, PHONE, SOCIAL, wb_would_refuse
from chatcenter.queues import ANALYSIS_JOB, REPLY_JOB, SYNC_JOB, Enqueued, QueueUnavailable, enqueue
from chatcenter.runtime import Resources
from chatcenter.texts import clean_text
from chatcenter.wb_events import MESSAGE_MAX

IDEMPOTENCY_WINDOW = timedelta(hours=24)
IDEMPOTENCY_KEY_MAX = 200
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


# The request errors of chatcenter.errors, under the names the callers know them by.


KIND_NAMES = {LINK: "a link", EMAIL: "an e-mail address", PHONE: "a phone number",
              SOCIAL: "a social network's name"}


class WouldBeRefused(BadInput):
    """The text holds what WB's moderation refuses in a seller's message; `kinds` names it."""

    def __init__(self, kinds: list[str]):
        found = " and ".join(KIND_NAMES[k] for k in kinds)
        super().__init__("text", f"contains {found}: WB's moderation refuses links, e-mail addresses, "
                                 "phone numbers and social networks' names in a seller's message")
        self.kinds = kinds


class AnalysisOff(Conflict, PermanentJobError):
    def __init__(self):
        super().__init__("analysis is off: set DEEPSEEK_API_KEY to enable it")


class IdempotencyConflict(Unprocessable):
    def __init__(self):
        super().__init__("Idempotency-Key: was already used for a different reply (another chat, text or files)")


def _require(session, model, row_id: int, what: str):
    row = session.get(model, row_id)
    if row is None:
        raise NotFound.of(what, row_id)
    return row


def request_sync(resources: Resources, seller_id: int) -> Enqueued:
    with resources.db.session() as session:
        _require(session, Seller, seller_id, "seller")
    return enqueue(resources.redis, SYNC_JOB, seller_id, resources.settings.job_retry_delays)


def request_analysis(resources: Resources, chat_id: int, force: bool = False) -> Enqueued:
    """`force`: analyse even with no new message since the last analysis (a person asked)."""
    if not resources.settings.analysis_enabled:
        raise AnalysisOff()
    with resources.db.session() as session:
        _require(session, Chat, chat_id, "chat")
    return enqueue(resources.redis, ANALYSIS_JOB, chat_id, resources.settings.job_retry_delays,
                   {"force": True} if force else None)


@dataclass(frozen=True)
class ReplyRequest:
    reply_id: int
    job_id: str
    state: str
    created: bool  # False: the Idempotency-Key named an earlier request


def clean_reply_text(text) -> str:
    text = clean_text(text, MESSAGE_MAX)
    refused = wb_would_refuse(text)
    if refused:  # checked before it is queued: WB would answer 400, after the operator moved on
        raise WouldBeRefused(refused)
    return text


def clean_idempotency_key(key: str | None) -> str | None:
    """None, or 1 to IDEMPOTENCY_KEY_MAX visible ASCII characters (a UUID fits)."""
    if key is not None and not (1 <= len(key) <= IDEMPOTENCY_KEY_MAX and _VISIBLE_ASCII.fullmatch(key)):
        raise BadInput("Idempotency-Key", f"must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters "
                                              "(letters, digits, punctuation; e.g. a UUID)")
    return key


def request_reply(resources: Resources, chat_id: int, text, requested_by: str,
                  idempotency_key: str | None = None, files: list[Upload] = ()) -> ReplyRequest:
    """Record the reply (with its files, checked by attachments.check_uploads) and enqueue
    its sending; the same key within 24 h is the same reply (same chat, text and files)."""
    text = clean_reply_text(text)
    idempotency_key = clean_idempotency_key(idempotency_key)
    with resources.db.session() as session:
        _require(session, Chat, chat_id, "chat")
        earlier = _earlier_reply(session, requested_by, idempotency_key)
        if earlier is not None:
            if (earlier.chat_id, earlier.text) != (chat_id, text) or \
                    reply_file_digests(session, earlier.id) != [f.sha256 for f in files]:
                raise IdempotencyConflict()
            reply_id, state, created = earlier.id, earlier.state, False
        else:
            reply = Reply(chat_id=chat_id, text=text, state=ReplyState.QUEUED, requested_by=requested_by,
                          idempotency_key=idempotency_key)
            session.add(reply)
            try:
                session.flush()
            except IntegrityError:  # the same key, at the same moment, from another request
                session.rollback()
                return request_reply(resources, chat_id, text, requested_by, idempotency_key, files)
            store_reply_files(session, chat_id, reply.id, files)  # committed with the reply
            reply_id, state, created = reply.id, reply.state, True
    job_id = REPLY_JOB.job_id(reply_id)
    if state == ReplyState.QUEUED:
        try:
            enqueue(resources.redis, REPLY_JOB, reply_id, resources.settings.job_retry_delays)
        except QueueUnavailable:
            if created:  # nothing half-done: the request can simply be made again
                with resources.db.session() as session:
                    session.delete(session.get(Reply, reply_id))
            raise
    if created:
        _assign_to_replier(resources, chat_id, requested_by)
    return ReplyRequest(reply_id, job_id, state, created)


def _assign_to_replier(resources: Resources, chat_id: int, requested_by: str) -> None:
    """An unassigned chat becomes the chat of the operator who answered it. A reply by API
    key leaves it as it is: a key is no one to assign a chat to."""
    kind, operator_id = who(requested_by)
    if kind == "operator":
        with resources.db.session() as session:
            assign_if_unassigned(session, chat_id, operator_id, requested_by)


def _earlier_reply(session, requested_by: str, key: str | None) -> Reply | None:
    if key is None:
        return None
    # A key older than the window is free again: the old reply lets go of it.
    session.execute(update(Reply).where(
        Reply.requested_by == requested_by, Reply.idempotency_key == key,
        Reply.created_at < utcnow() - IDEMPOTENCY_WINDOW).values(idempotency_key=None))
    return session.scalars(select(Reply).where(Reply.requested_by == requested_by,
                                               Reply.idempotency_key == key)).first()
