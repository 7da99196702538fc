"""What operators read, for the JSON API, the inbox pages and the CLI alike: sellers, chats
(filtered, in pages by keyset), one chat with its messages, and the state of a job.

Answers are plain dicts of JSON types, of the shapes chatcenter/contract.py declares (the
API's answers and its OpenAPI document come from the same declarations). A buyer appears by
first name only; WB tokens and reply signs never appear.

Every read of sellers and chats takes the request's Scope (chatcenter/scope.py), a required
keyword: what lies outside it is not in a list, a count or a lookup by id.
"""
from __future__ import annotations

import base64
import hashlib
import json
from collections import namedtuple
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from redis import Redis
from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from chatcenter import contract
from chatcenter.attachments import attachment_views, message_attachments
from chatcenter.chat_status import STATUSES, effective_status, who
from chatcenter.contract import ID_MAX, PREVIEW_MAX
from chatcenter.errors import BadInput
from chatcenter.job_attempts import last_failure, public_reason  # noqa: F401  (public_reason: re-exported)
from chatcenter.models import (
    Analysis, ApiKey, Chat, ChatChange, ChatNote, ChatStatus, Message, Operator, Reply, ReplyState, Seller, utcnow,
)
from chatcenter.prompt import CATEGORIES, SENTIMENTS, URGENCIES
from chatcenter.queues import fetch_job, kind_of, retry_time
from chatcenter.scope import Scope
from chatcenter.search import SEARCH_MAX
from chatcenter import search

MAX_LIMIT = 100
ORDERS = ("activity", "queue")  # newest activity first; the inbox's "what to answer first"
KEY_INT_MAX = ID_MAX  # ids and priorities are 32-bit integers (or smaller) in PostgreSQL
UNASSIGNED = "none"  # ChatFilter.assignee_id: chats nobody is assigned to
THREAD_EXTRAS_MAX = 200  # notes, and status changes, shown with one page of messages




@dataclass(frozen=True)
class ChatFilter:
    seller_id: int | None = None
    awaiting_reply: bool | None = None
    sentiment: str | None = None
    urgency: str | None = None
    category: str | None = None
    q: str | None = None  # words to search for (chatcenter/search.py); blank is no search
    statuses: tuple[str, ...] | None = None  # any of open, resolved, snoozed
    assignee_id: int | str | None = None  # an operator's id, or UNASSIGNED

    def __post_init__(self):
        if self.q is not None:
            if len(self.q) > SEARCH_MAX:
                raise BadInput("q", f"must be at most {SEARCH_MAX} characters, got {len(self.q)}")
            object.__setattr__(self, "q", self.q.strip() or None)
        for field, allowed in (("sentiment", SENTIMENTS), ("urgency", URGENCIES), ("category", CATEGORIES)):
            value = getattr(self, field)
            if value is not None and value not in allowed:
                raise BadInput(field, f"must be one of {', '.join(allowed)}")
        if self.statuses is not None:
            if not self.statuses or any(status not in STATUSES for status in self.statuses):
                raise BadInput("status", f"must be one or more of {', '.join(STATUSES)}")
            # One order, no repeats: the same set of statuses is the same filter (and cursor).
            object.__setattr__(self, "statuses", tuple(s for s in STATUSES if s in self.statuses))
        if self.assignee_id is not None and self.assignee_id != UNASSIGNED and (
                isinstance(self.assignee_id, bool) or not isinstance(self.assignee_id, int)
                or not 1 <= self.assignee_id <= KEY_INT_MAX):
            raise BadInput("assignee_id", f"must be an operator's id or {UNASSIGNED}")

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def conditions(self) -> list:
        found = []
        if self.seller_id is not None:
            found.append(Chat.seller_id == self.seller_id)
        if self.awaiting_reply is not None:
            found.append(Chat.awaiting_reply == self.awaiting_reply)  # "= true" uses the index, "IS true" not
        for field in ("sentiment", "urgency", "category"):
            if getattr(self, field) is not None:
                found.append(getattr(Chat, field) == getattr(self, field))
        if self.statuses is not None and len(self.statuses) < len(STATUSES):
            now = utcnow()
            found.append(or_(*(_STATUS_CONDITIONS[status](now) for status in self.statuses)))
        if self.assignee_id == UNASSIGNED:
            found.append(Chat.assignee_id.is_(None))
        elif self.assignee_id is not None:
            found.append(Chat.assignee_id == self.assignee_id)
        return found


# A snoozed chat is stored as open with a future snoozed_until (chatcenter.chat_status):
# "open" and "snoozed" are one range of the status indexes, told apart by the clock.
_STATUS_CONDITIONS = {
    ChatStatus.OPEN: lambda now: and_(Chat.status == ChatStatus.OPEN,
                                      or_(Chat.snoozed_until.is_(None), Chat.snoozed_until <= now)),
    # "IS NOT NULL" written out: SQLite uses the partial index only for its very condition.
    ChatStatus.SNOOZED: lambda now: and_(Chat.status == ChatStatus.OPEN, Chat.snoozed_until.is_not(None),
                                         Chat.snoozed_until > now),
    ChatStatus.RESOLVED: lambda now: Chat.status == ChatStatus.RESOLVED,
}


@dataclass
class ChatPage:
    chats: list[contract.ChatSummary]
    next_cursor: str | None
    prev_cursor: str | None = None  # the inbox's "previous page"; None on the first


# ------------------------------------------------------------------------------ cursors

def _encode_cursor(order: str, filters: ChatFilter, segment: int, keys: list, backward: bool = False) -> str:
    data = {"o": order, "f": filters.digest(), "s": segment, "k": keys, **({"b": True} if backward else {})}
    raw = json.dumps(data, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str, filters: ChatFilter) -> tuple[int, list, bool]:
    """(segment, keys, backward): a forward cursor starts after its row, a backward one
    (the inbox's "previous page") ends before it."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        segment, keys, backward = data["s"], data["k"], data.get("b", False)
        owner = (data["o"], data["f"])
        keys = _cursor_keys(segment, keys, by_priority=order == "queue" and not filters.q)
        if backward is not True and backward is not False:
            raise ValueError
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError):
        raise BadInput("cursor", "is not a cursor this API gave out") from None
    if owner != (order, filters.digest()) or (segment == 0 and order != "queue" and not filters.q):
        raise BadInput("cursor", "belongs to another order or other filters; start again without it")
    return segment, keys, backward


def _row_cursor(order: str, filters: ChatFilter, chat, backward: bool = False) -> str:
    """The cursor just after (or, backward, just before) this row in the list's order."""
    if order == "queue" and chat.awaiting_reply:
        return _encode_cursor(order, filters, 0, [chat.priority, chat.waiting_since.isoformat(), chat.id], backward)
    return _encode_cursor(order, filters, 1, [chat.last_message_at.isoformat(), chat.id], backward)


def _cursor_keys(segment, keys, by_priority: bool) -> list:
    """The keys of a cursor, each of the type and range its column holds: a cursor is the
    client's to send back, and a forged one must be refused, not reach the database."""
    if isinstance(segment, bool) or segment not in (0, 1):
        raise ValueError
    shape = (_int_key, _time_key, _int_key) if segment == 0 and by_priority else (_time_key, _int_key)
    if not isinstance(keys, list) or len(keys) != len(shape):
        raise ValueError
    return [parse(key) for parse, key in zip(shape, keys)]


def _int_key(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= KEY_INT_MAX:
        raise ValueError
    return value


def _time_key(value) -> datetime:
    moment = datetime.fromisoformat(value)  # TypeError for a non-string
    if moment.tzinfo is None:
        raise ValueError
    return moment.astimezone(timezone.utc)  # OverflowError at the ends of time


# ------------------------------------------------------------------------------- chats

# A list row carries only the columns a summary shows, selected as table columns through
# the Core and split into three named tuples: ORM loading (entities, or even Bundles) of 50
# chats with their analysis and last message cost several times the query itself. The
# select is built once; each query adds its conditions, order and limit.
_last_message = Message.__table__.alias()  # messages_1: a chat's newest message
_assignee = Operator.__table__.alias("assignee")
_chats, _analyses, _last = Chat.__table__.c, Analysis.__table__.c, _last_message.c
_CHAT = (_chats.id, _chats.seller_id, _chats.client_name, _chats.good_card, _chats.awaiting_reply,
         _chats.waiting_since, _chats.last_message_at, _chats.priority, _chats.status, _chats.snoozed_until,
         _chats.assignee_id, _assignee.c.email.label("assignee_name"))
_ANALYSIS = (_analyses.id, _analyses.sentiment, _analyses.category, _analyses.urgency, _analyses.summary,
             _analyses.suggested_reply, _analyses.model, _analyses.last_message_id, _analyses.created_at)
_LAST = (_last.id, _last.sender, _last.text, _last.attachments, _last.sent_at)
_CHAT_SELECT = (select(*_CHAT, *_ANALYSIS, *_LAST)
                .outerjoin(Analysis.__table__, _analyses.id == _chats.latest_analysis_id)
                .outerjoin(_last_message, _last.id == _chats.last_message_id)
                .outerjoin(_assignee, _assignee.c.id == _chats.assignee_id))
_ChatRow = namedtuple("_ChatRow", [c.key for c in _CHAT])
_AnalysisRow = namedtuple("_AnalysisRow", [c.key for c in _ANALYSIS])
_LastRow = namedtuple("_LastRow", [c.key for c in _LAST])
_A, _L = len(_CHAT), len(_CHAT) + len(_ANALYSIS)  # where the analysis and the last message start


def _chat_rows(session: Session, conditions: list, order_by: list, limit: int):
    query = _CHAT_SELECT.where(*conditions).order_by(*order_by).limit(limit)
    # An outer join that found nothing gives NULLs, the id included: that is "none".
    return [(_ChatRow._make(row[:_A]),
             _AnalysisRow._make(row[_A:_L]) if row[_A] is not None else None,
             _LastRow._make(row[_L:]) if row[_L] is not None else None)
            for row in session.connection().execute(query)]


def list_chats(session: Session, filters: ChatFilter, *, scope: Scope, order: str = "activity", limit: int = 50,
               cursor: str | None = None) -> ChatPage:
    """One page of chats, a cursor for the next (None on the last page) and one for the
    previous (None on the first).

    Keyset pagination: a page starts strictly after the last row of the previous one, so
    chats arriving meanwhile (newer activity) never shift a later page. A backward cursor
    gives the page that ends just before its row; when fewer than a page are left there,
    the first page instead (never a short page at the start).
    """
    if order not in ORDERS:
        raise BadInput("order", f"must be one of {', '.join(ORDERS)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise BadInput("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    if filters.q:
        if order != "activity":
            raise BadInput("order", "cannot be given with q: search results come best match first")
        return _search_page(session, filters, scope, limit, cursor)
    if cursor:
        segment, keys, backward = _decode_cursor(cursor, order, filters)
        if backward:
            rows = _rows_before(session, filters, scope, order, limit, segment, keys)
            if len(rows) <= limit:  # reached the start
                return list_chats(session, filters, scope=scope, order=order, limit=limit)
            page = rows[:limit][::-1]
            return ChatPage([_chat_summary(*row) for row in page], _row_cursor(order, filters, page[-1][0]),
                            _row_cursor(order, filters, page[0][0], backward=True))
    else:
        segment = 1 if order == "activity" or filters.awaiting_reply is False else 0
        keys = None
    rows = _rows_after(session, filters, scope, order, limit, segment, keys)
    page, more = rows[:limit], len(rows) > limit
    return ChatPage([_chat_summary(*row) for row in page],
                    _row_cursor(order, filters, page[-1][0]) if more and page else None,
                    _row_cursor(order, filters, page[0][0], backward=True) if cursor and page else None)


def _rows_after(session: Session, filters: ChatFilter, scope: Scope, order: str, limit: int, segment: int,
                keys) -> list:
    """Up to limit + 1 rows after the keys, in the list's order."""
    base = [*filters.conditions(), *scope.limit(Chat.seller_id)]
    rows = []
    if segment == 0:  # queue order, first the chats awaiting a reply: high urgency, longest wait
        after = [tuple_(Chat.priority, Chat.waiting_since, Chat.id) > tuple_(*keys)] if keys else []
        rows = _chat_rows(session, [*base, Chat.awaiting_reply == True, *after],  # noqa: E712
                          [Chat.priority, Chat.waiting_since, Chat.id], limit + 1)
        segment, keys = 1, None  # then, on the same page if there is room, the rest
    if segment == 1 and len(rows) <= limit and not (order == "queue" and filters.awaiting_reply):
        rest = [Chat.awaiting_reply == False] if order == "queue" else []  # noqa: E712
        after = [tuple_(Chat.last_message_at, Chat.id) < tuple_(*keys)] if keys else []
        rows = [*rows, *_chat_rows(session, [*base, *rest, *after], [Chat.last_message_at.desc(), Chat.id.desc()],
                                   limit + 1 - len(rows))]
    return rows


def _rows_before(session: Session, filters: ChatFilter, scope: Scope, order: str, limit: int, segment: int,
                 keys) -> list:
    """Up to limit + 1 rows before the keys, nearest first: _rows_after walked backwards."""
    base = [*filters.conditions(), *scope.limit(Chat.seller_id)]
    rows = []
    if segment == 1:
        rest = [Chat.awaiting_reply == False] if order == "queue" else []  # noqa: E712
        rows = _chat_rows(session, [*base, *rest, tuple_(Chat.last_message_at, Chat.id) > tuple_(*keys)],
                          [Chat.last_message_at, Chat.id], limit + 1)
        keys = None  # then the end of the awaiting part, in queue order
    if len(rows) <= limit and order == "queue" and filters.awaiting_reply is not False:
        before = [tuple_(Chat.priority, Chat.waiting_since, Chat.id) < tuple_(*keys)] if keys else []
        rows = [*rows, *_chat_rows(session, [*base, Chat.awaiting_reply == True, *before],  # noqa: E712
                                   [Chat.priority.desc(), Chat.waiting_since.desc(), Chat.id.desc()],
                                   limit + 1 - len(rows))]
    return rows


def _search_page(session: Session, filters: ChatFilter, scope: Scope, limit: int, cursor: str | None) -> ChatPage:
    """A page of search results: first the tier of chats whose buyer's name matches (segment
    0), then the tier of chats with a matching message (segment 1, without those of tier 0),
    each newest activity first; the cursor holds the tier and the last row's (time, id)."""
    segment, keys, backward = _decode_cursor(cursor, "activity", filters) if cursor else (0, None, False)
    if backward:  # results come in tiers: they are read forward only
        raise BadInput("cursor", "search results have no previous page; start again without it")
    connection = session.connection()
    rows = []
    with search.planned_for_these_words(connection):
        found = search.tiers(connection, filters.q)
        tiers = {0: [found.name], 1: [found.message, found.not_name]}
        newest_first = [Chat.last_message_at.desc(), Chat.id.desc()]
        for tier in range(segment, 2):
            if tiers[tier][0] is None:  # known to be empty
                continue
            after = [tuple_(Chat.last_message_at, Chat.id) < tuple_(*keys)] if keys and tier == segment else []
            matching = [condition for condition in tiers[tier] if condition is not None]
            conditions = [*filters.conditions(), *scope.limit(Chat.seller_id), *matching, *after]
            rows += [(tier, row) for row in _chat_rows(session, conditions, newest_first, limit + 1 - len(rows))]
            if len(rows) > limit:
                break
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more and page:
        last_segment, (last, _, _) = page[-1]
        next_cursor = _encode_cursor("activity", filters, last_segment, [last.last_message_at.isoformat(), last.id])
    return ChatPage([_chat_summary(*row) for _, row in page], next_cursor)


def count_chats(session: Session, filters: ChatFilter, *, scope: Scope, up_to: int | None = None) -> int:
    """How many chats match (the inbox shows how many await a reply); with `up_to`, counting
    stops past it (the answer is then up_to + 1), so a big backlog costs no more than a page."""
    matching = select(Chat.id).where(*filters.conditions(), *scope.limit(Chat.seller_id))
    if up_to is not None:
        matching = matching.limit(up_to + 1)
    return session.connection().execute(select(func.count()).select_from(matching.subquery())).scalar()


def first_name(client_name: str | None) -> str | None:
    """The buyer's first name only: what an operator needs to greet them."""
    return client_name.split()[0] if client_name and client_name.split() else None


def _product(card: dict | None) -> contract.Product | None:
    if not isinstance(card, dict):
        return None
    return contract.Product(nmID=card.get("nmID"), price=card.get("price"), priceCurrency=card.get("priceCurrency"),
                            size=card.get("size"))


def _preview(message) -> contract.MessagePreview | None:  # a row of a Message's columns
    if message is None:
        return None
    text = message.text or ""
    return contract.MessagePreview(id=message.id, sender=message.sender,
                                   text=text[:PREVIEW_MAX] + ("…" if len(text) > PREVIEW_MAX else ""),
                                   attachments=None, sent_at=message.sent_at.isoformat())


def _message(message, files: list[dict]) -> contract.Message:  # a row of a Message's columns
    return contract.Message(id=message.id, sender=message.sender, text=message.text or "",
                            attachments=message_attachments(files, message.attachments),
                            sent_at=message.sent_at.isoformat())


def analysis_view(analysis) -> contract.Analysis | None:  # an Analysis or a row of its columns
    if analysis is None:
        return None
    return contract.Analysis(
        id=analysis.id, sentiment=analysis.sentiment, category=analysis.category, urgency=analysis.urgency,
        summary=analysis.summary, suggested_reply=analysis.suggested_reply, model=analysis.model,
        covers_message_id=analysis.last_message_id, created_at=analysis.created_at.isoformat())


def _chat_summary(chat: _ChatRow, analysis: _AnalysisRow | None, last: _LastRow | None) -> contract.ChatSummary:
    status = effective_status(chat.status, chat.snoozed_until)
    return contract.ChatSummary(
        id=chat.id,
        seller_id=chat.seller_id,
        buyer_first_name=first_name(chat.client_name),
        product=_product(chat.good_card),
        awaiting_reply=chat.awaiting_reply,
        waiting_since=chat.waiting_since.isoformat() if chat.waiting_since else None,
        last_activity_at=chat.last_message_at.isoformat(),
        last_message=_preview(last),
        analysis=analysis_view(analysis),
        status=status,
        snoozed_until=chat.snoozed_until.isoformat() if status == ChatStatus.SNOOZED else None,
        assignee=contract.Person(id=chat.assignee_id, name=chat.assignee_name) if chat.assignee_id else None,
    )


def chat_detail(session: Session, chat_id: int, *, scope: Scope, limit: int = 50,
                before: int | None = None) -> contract.ChatDetail | None:
    """A chat with one page of its messages (oldest first; `before` pages back in time);
    None when there is no such chat in the scope."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise BadInput("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    found = _chat_rows(session, [Chat.id == chat_id, *scope.limit(Chat.seller_id)], [], 1)
    if not found:
        return None
    chat, analysis, last = found[0]
    older = [tuple_(Message.sent_at, Message.id) < _message_key(session, chat_id, before)] if before else []
    # Plain rows of the tables' columns (the same SQL as for entities, without ORM loading).
    connection = session.connection()
    newest_first = connection.execute(select(Message.__table__).where(Message.chat_id == chat_id, *older)
                                      .order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit + 1)).all()
    page = list(reversed(newest_first[:limit]))
    replies = connection.execute(select(Reply.__table__).where(Reply.chat_id == chat_id, Reply.state != ReplyState.SENT)
                                 .order_by(Reply.id.desc()).limit(5)).all()
    # Only messages WB said have files look for them (most have none).
    files = attachment_views(session, [m.id for m in page if m.attachments is not None or m.sender == "seller"])
    # Notes and changes beside this page of messages: from its first message on (from the
    # beginning when it is the oldest page), up to the message it pages back from.
    since = page[0].sent_at if page and len(newest_first) > limit else None
    until = session.scalar(select(Message.sent_at).where(Message.id == before)) if before else None
    notes, changes = thread_extras(session, chat_id, since, until)
    return contract.ChatDetail(
        **_chat_summary(chat, analysis, last),
        messages=[_message(m, files.get(m.id, [])) for m in page],
        messages_before=page[0].id if len(newest_first) > limit else None,
        pending_replies=[reply_view(r) for r in replies],
        notes=notes,
        changes=changes,
    ) | {"product": chat.good_card if isinstance(chat.good_card, dict) else None}  # the whole card


def thread_extras(session: Session, chat_id: int, since: datetime | None,
                  until: datetime | None) -> tuple[list[contract.Note], list[contract.ChatChange]]:
    """A chat's notes and status changes in [since, until), oldest first (the newest
    THREAD_EXTRAS_MAX of each), with the names of the people and keys they mention."""
    connection = session.connection()
    found = {}
    for table in (ChatNote.__table__, ChatChange.__table__):
        span = [table.c.chat_id == chat_id, *([table.c.created_at >= since] if since else []),
                *([table.c.created_at < until] if until else [])]
        rows = connection.execute(select(table).where(*span).order_by(table.c.created_at.desc(), table.c.id.desc())
                                  .limit(THREAD_EXTRAS_MAX)).all()
        found[table.name] = list(reversed(rows))
    notes, changes = found[ChatNote.__tablename__], found[ChatChange.__tablename__]
    names = _names(session, [n.author for n in notes] + [c.actor for c in changes],
                   [c.assignee_id for c in changes if c.assignee_id])
    return ([contract.Note(id=n.id, text=n.text, by=names.actor(n.author), created_at=n.created_at.isoformat())
             for n in notes],
            [contract.ChatChange(id=c.id, kind=c.kind, by=names.actor(c.actor),
                                 assignee=names.person(c.assignee_id) if c.assignee_id else None,
                                 snoozed_until=c.snoozed_until.isoformat() if c.snoozed_until else None,
                                 at=c.created_at.isoformat())
             for c in changes])


@dataclass
class _Names:
    operators: dict[int, str]
    keys: dict[int, str]

    def person(self, operator_id: int) -> contract.Person:
        return contract.Person(id=operator_id, name=self.operators.get(operator_id, f"#{operator_id}"))

    def actor(self, requester: str) -> contract.Actor:
        """"operator:5", "api-key-3", "cli", "buyer" as who it was."""
        kind, ident = who(requester)
        if kind == "operator":
            return contract.Actor(kind=kind, id=ident, name=self.operators.get(ident))
        if kind == "api_key":
            return contract.Actor(kind=kind, id=ident, name=self.keys.get(ident))
        return contract.Actor(kind=kind, id=None, name=None)


def _names(session: Session, requesters: list[str], operator_ids: list[int]) -> _Names:
    found = [who(r) for r in set(requesters)]
    operators = {*operator_ids, *(i for kind, i in found if kind == "operator")}
    keys = {i for kind, i in found if kind == "api_key"}
    return _Names(
        dict(session.execute(select(Operator.id, Operator.email).where(Operator.id.in_(operators))).all())
        if operators else {},
        dict(session.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(keys))).all()) if keys else {})


def note_view(session: Session, note: ChatNote) -> contract.Note:
    return contract.Note(id=note.id, text=note.text, by=_names(session, [note.author], []).actor(note.author),
                         created_at=note.created_at.isoformat())


def active_operators(session: Session) -> list[contract.Person]:
    """Whom a chat can be assigned to."""
    return [contract.Person(id=i, name=email) for i, email in session.execute(
        select(Operator.id, Operator.email).where(Operator.active.is_(True)).order_by(Operator.email))]


def _message_key(session: Session, chat_id: int, message_id: int):
    found = session.execute(select(Message.sent_at, Message.id)
                            .where(Message.chat_id == chat_id, Message.id == message_id)).first()
    if found is None:
        raise BadInput("before", f"message {message_id} is not in this chat")
    return tuple_(*found)


def reply_view(reply) -> contract.PendingReply:  # a Reply or a row of its columns
    return contract.PendingReply(id=reply.id, state=reply.state, text=reply.text, error=reply.error,
                                  message_id=reply.message_id,
                                 created_at=reply.created_at.isoformat(),
                                 sent_at=reply.sent_at.isoformat() if reply.sent_at else None)


def chat_reply(session: Session, chat_id: int, reply_id: int) -> contract.PendingReply | None:
    """One reply of a chat in any state: the page that sent it follows it until "sent"."""
    reply = session.get(Reply, reply_id)
    return reply_view(reply) if reply is not None and reply.chat_id == chat_id else None


# ------------------------------------------------------------------------------ sellers

def seller_view(seller) -> contract.Seller:  # a Seller or a row of its columns
    return contract.Seller(id=seller.id, name=seller.name, active=seller.active, sync_state=seller.sync_state,
                           last_synced_at=seller.last_synced_at.isoformat() if seller.last_synced_at else None,
                           last_error=seller.last_error, set_aside_events=seller.set_aside_events)


# The columns seller_view shows (no token), read as plain rows: the inbox lists the
# sellers on every page load.
_sellers = Seller.__table__.c
_SELLER_SELECT = select(_sellers.id, _sellers.name, _sellers.active, _sellers.sync_state, _sellers.last_synced_at,
                        _sellers.last_error, _sellers.set_aside_events).order_by(_sellers.id)


def list_sellers(session: Session, *, scope: Scope) -> list[contract.Seller]:
    return [seller_view(s) for s in session.connection().execute(_SELLER_SELECT.where(*scope.limit(_sellers.id)))]


def failing_sellers(session: Session, *, scope: Scope) -> list[dict]:
    """Active sellers whose polls are failing (the poller writes and clears these), oldest first."""
    rows = session.connection().execute(
        select(_sellers.id, _sellers.name, _sellers.poll_error, _sellers.poll_failing_since)
        .where(_sellers.active.is_(True), _sellers.poll_failing_since.is_not(None), *scope.limit(_sellers.id))
        .order_by(_sellers.poll_failing_since, _sellers.id))
    return [{"id": r.id, "name": r.name, "error": r.poll_error, "since": r.poll_failing_since} for r in rows]


# --------------------------------------------------------------------------------- jobs

RETRYING = "retrying"  # an attempt failed; the next is scheduled (see job_attempts.py)
JOB_STATES = {"queued": "queued", "deferred": "queued", "scheduled": "queued", "started": "started",
              "finished": "finished", "failed": "failed", "stopped": "failed", "canceled": "failed"}


def _retry_time(redis: Redis, job) -> str | None:
    at = retry_time(redis, job)
    return at.astimezone(timezone.utc).isoformat(timespec="seconds") if at else None


def job_view(redis: Redis, job_id: str) -> contract.Job | None:
    """This project's job by id: its state, and its result or a short public reason."""
    job = fetch_job(redis, job_id)
    if job is None:
        return None
    raw = job.get_status(refresh=False).value
    status = JOB_STATES.get(raw, "queued")
    view = contract.Job(id=job_id, kind=kind_of(job_id).func.rsplit(".", 1)[-1], status=status)
    reason = last_failure(job) if raw == "scheduled" else None
    if reason is not None:  # an attempt failed; the next waits for its retry delay
        view.update(status=RETRYING, reason=reason, retry_at=_retry_time(redis, job))
    elif status == "finished":
        view["result"] = job.return_value()
    elif status == "failed":
        result = job.latest_result()
        view["reason"] = public_reason(result.exc_string if result else "")
    return view
