"""Which chats an operator has not read: buyer messages newer than what they saw when they
last opened the chat (chat_reads), and newer than their read floor (the newest message when
they first opened the inbox: the history before it counts as read).

The chat list asks about its own page only (one grouped query for the page's chats, never a
query per row), and the page title counts unread chats among the UNREAD_WINDOW chats with
the newest buyer messages: a bounded read of one index, however many chats there are.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chatcenter.scope import Scope
from chatcenter.models import Chat, ChatRead, Message, Operator, utcnow

UNREAD_WINDOW = 1000  # the title's count looks at this many chats with the newest buyer messages
CLIENT = "client"


@dataclass(frozen=True)
class UnreadChats:
    count: int
    more: bool  # the window was full: there may be more unread chats past it ("12+")


def read_floor(session: Session, operator_id: int) -> int | None:
    """The operator's read floor; None until they first open the inbox (start_reading)."""
    return session.scalar(select(Operator.read_floor_message_id).where(Operator.id == operator_id))


def start_reading(session: Session, operator_id: int) -> int:
    """Set the floor to the newest message (once; a concurrent first look keeps the first)."""
    newest = select(func.coalesce(func.max(Message.id), 0)).scalar_subquery()
    session.execute(update(Operator).where(Operator.id == operator_id, Operator.read_floor_message_id.is_(None))
                    .values(read_floor_message_id=newest))
    return read_floor(session, operator_id) or 0


def _seen(operator_id: int):
    return and_(ChatRead.operator_id == operator_id, ChatRead.chat_id == Chat.id)


def _past(column, floor: int):
    """A message id past both the floor and what the operator last saw of the chat."""
    return and_(column > floor, or_(ChatRead.last_seen_message_id.is_(None), column > ChatRead.last_seen_message_id))


def unread_counts(session: Session, operator_id: int, floor: int, chat_ids: list[int]) -> dict[int, int]:
    """For the chats of one page: chat id -> buyer messages the operator has not seen
    (chats read are left out)."""
    if not chat_ids:
        return {}
    query = (select(Message.chat_id, func.count())
             .join(Chat, Chat.id == Message.chat_id)
             .outerjoin(ChatRead, _seen(operator_id))
             .where(Chat.id.in_(chat_ids), Message.chat_id.in_(chat_ids), _past(Chat.last_buyer_message_id, floor),
                    Message.sender == CLIENT, _past(Message.id, floor))
             .group_by(Message.chat_id))
    return dict(session.connection().execute(query).all())


def count_unread_chats(session: Session, operator_id: int, floor: int, *, scope: Scope) -> UnreadChats:
    """Unread chats among the UNREAD_WINDOW with the newest buyer messages past the floor,
    of the sellers the operator sees."""
    recent = (select(Chat.id, Chat.last_buyer_message_id)
              .where(Chat.last_buyer_message_id > floor, *scope.limit(Chat.seller_id))
              .order_by(Chat.last_buyer_message_id.desc()).limit(UNREAD_WINDOW).subquery())
    unread = or_(ChatRead.last_seen_message_id.is_(None),
                 recent.c.last_buyer_message_id > ChatRead.last_seen_message_id)
    query = (select(func.count(), func.coalesce(func.sum(case((unread, 1), else_=0)), 0))
             .select_from(recent)
             .outerjoin(ChatRead, and_(ChatRead.operator_id == operator_id, ChatRead.chat_id == recent.c.id)))
    scanned, count = session.connection().execute(query).one()
    return UnreadChats(int(count), scanned >= UNREAD_WINDOW)


def mark_seen(session: Session, operator_id: int, chat_id: int, message_id: int) -> None:
    """The operator has seen the chat up to this message; never moves back (two tabs)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ChatRead).values(operator_id=operator_id, chat_id=chat_id,
                                                last_seen_message_id=message_id, seen_at=utcnow())
    session.execute(statement.on_conflict_do_update(
        index_elements=["operator_id", "chat_id"],
        set_={"last_seen_message_id": statement.excluded.last_seen_message_id, "seen_at": statement.excluded.seen_at},
        where=ChatRead.last_seen_message_id < statement.excluded.last_seen_message_id))
