"""A chat's status and assignee, changed by operators (API, pages, CLI) and by new buyer
messages, every change recorded (ChatChange: who, what, when) and shown in the thread.

A chat is open, resolved, or snoozed until a time. Snoozed is stored as "open" with a
future snoozed_until: a snooze then ends by itself at its time (every query compares
snoozed_until with the clock), with no process that must wake it, and the inbox's open
chats stay one index range (status = 'open'). A new buyer message reopens a resolved or
snoozed chat (chat_store.store_events calls reopen_rows).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from chatcenter.errors import BadInput, NotFound
from chatcenter.models import ChatChange, Chat, ChatStatus, Operator, utcnow

STATUSES = (ChatStatus.OPEN, ChatStatus.RESOLVED, ChatStatus.SNOOZED)
# What ChatChange.kind says happened.
RESOLVED, REOPENED, SNOOZED, ASSIGNED, UNASSIGNED = "resolved", "reopened", "snoozed", "assigned", "unassigned"
CHANGE_KINDS = (RESOLVED, REOPENED, SNOOZED, ASSIGNED, UNASSIGNED)
BUYER = "buyer"  # the actor of a reopening by a new buyer message
CLI = "cli"  # the actor of a change made with `flask chats ...`
UNSET = object()  # a field the request did not give


def effective_status(status: str, snoozed_until: datetime | None, now: datetime | None = None) -> str:
    """What a chat's stored columns mean now: a snooze past its time is open again."""
    if status == ChatStatus.OPEN and snoozed_until is not None and snoozed_until > (now or utcnow()):
        return ChatStatus.SNOOZED
    return status


@dataclass(frozen=True)
class ChangeResult:
    chat_id: int
    changes: list[str]  # the kinds recorded (none when nothing changed)


def change_chat(session: Session, chat_id: int, actor: str, *, status=UNSET, snoozed_until=UNSET,
                assignee_id=UNSET) -> ChangeResult:
    """Set any of the chat's status (with snoozed_until for "snoozed") and assignee (an
    active operator's id, or None), recording each real change. Checked here, for the API,
    the pages and the CLI alike; a refusal names the field at fault. Call it in a session
    with the write lock (SQLite has no FOR UPDATE): a sync storing a buyer message at the
    same moment must see this change, or this one see its reopening."""
    if status is UNSET and snoozed_until is UNSET and assignee_id is UNSET:
        raise BadInput("body", "give at least one of status, snoozed_until, assignee_id")
    now = utcnow()
    if status is not UNSET and status not in STATUSES:
        raise BadInput("status", f"must be one of {', '.join(STATUSES)}")
    if status == ChatStatus.SNOOZED:
        snoozed_until = _snooze_time(snoozed_until, now)
    elif snoozed_until is not UNSET:
        raise BadInput("snoozed_until", 'is only taken with "status": "snoozed"')
    if assignee_id is not UNSET and assignee_id is not None:
        _require_active_operator(session, assignee_id)
    # Locked as a sync locks it (chat_store._chat_states): a buyer message reopening the
    # chat at the same moment is either seen here or applied after this.
    chat = session.scalar(select(Chat).where(Chat.id == chat_id).with_for_update())
    if chat is None:
        raise NotFound.of("chat", chat_id)
    recorded = []
    if status is not UNSET:
        before = effective_status(chat.status, chat.snoozed_until, now)
        if status == ChatStatus.SNOOZED:
            if before != ChatStatus.SNOOZED or chat.snoozed_until != snoozed_until:
                chat.status, chat.snoozed_until = ChatStatus.OPEN, snoozed_until
                recorded.append(_change(session, chat_id, SNOOZED, actor, now, snoozed_until=snoozed_until))
        elif status != before:
            chat.status, chat.snoozed_until = status, None
            recorded.append(_change(session, chat_id, RESOLVED if status == ChatStatus.RESOLVED else REOPENED,
                                    actor, now))
    if assignee_id is not UNSET and assignee_id != chat.assignee_id:
        chat.assignee_id = assignee_id
        recorded.append(_change(session, chat_id, ASSIGNED if assignee_id else UNASSIGNED, actor, now,
                                assignee_id=assignee_id))
    return ChangeResult(chat_id, recorded)


def _snooze_time(value, now: datetime) -> datetime:
    if value is UNSET or value is None:
        raise BadInput("snoozed_until", 'is required with "status": "snoozed"')
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise BadInput("snoozed_until", "must be an ISO 8601 date-time with its offset, e.g. 2026-12-01T09:00:00Z")
    if value <= now:
        raise BadInput("snoozed_until", "must be in the future")
    return value


def _require_active_operator(session: Session, operator_id) -> None:
    if isinstance(operator_id, bool) or not isinstance(operator_id, int):
        raise BadInput("assignee_id", "must be an operator's id or null")
    active = session.scalar(select(Operator.active).where(Operator.id == operator_id))
    if active is None:
        raise BadInput("assignee_id", f"no operator has id {operator_id}")
    if not active:
        raise BadInput("assignee_id", f"operator {operator_id} is disabled")


def _change(session: Session, chat_id: int, kind: str, actor: str, at: datetime, **values) -> str:
    session.add(ChatChange(chat_id=chat_id, kind=kind, actor=actor, created_at=at, **values))
    return kind


def assign_if_unassigned(session: Session, chat_id: int, operator_id: int, actor: str) -> bool:
    """Give an unassigned chat to the operator who answered it (one statement: two
    operators replying at once, the first one's). Returns whether it was assigned."""
    taken = session.execute(update(Chat).where(Chat.id == chat_id, Chat.assignee_id.is_(None))
                            .values(assignee_id=operator_id).execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        return False
    _change(session, chat_id, ASSIGNED, actor, utcnow(), assignee_id=operator_id)
    return True


def reopened_by_buyer(session: Session, chat_ids: list[int], at: datetime) -> None:
    """Record the reopening of chats a new buyer message reopened (the store set them open)."""
    if chat_ids:
        session.execute(insert(ChatChange), [{"chat_id": chat_id, "kind": REOPENED, "actor": BUYER,
                                              "created_at": at} for chat_id in chat_ids])


def who(requester: str) -> tuple[str, int | None]:
    """A requester as replies and changes name it ("operator:5", "api-key-3", "cli",
    "buyer") as (kind, id): ("operator", 5), ("api_key", 3), ("cli", None), ("buyer", None)."""
    head, _, ident = requester.partition(":")
    if head == "operator" and ident.isdigit():
        return "operator", int(ident)
    if requester.startswith("api-key-") and requester[8:].isdigit():
        return "api_key", int(requester[8:])
    return (BUYER, None) if requester == BUYER else (CLI, None)
