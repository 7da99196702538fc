"""Storing what happens in a chat: WB's chats and events, our sent replies, the analyses.

Everything here is idempotent: a page stored twice adds nothing the second time, so a
sync cut off at any point can simply run again. The chat's copied columns (newest
message, waiting time, due analysis, latest analysis) change only here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
import functools
import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import JSON, Boolean, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, object_session

from chatcenter import models
from chatcenter.chat_status import effective_status, reopened_by_buyer
from chatcenter.models import (
    DEFAULT_PRIORITY, PRIORITIES, Analysis, Chat, ChatStatus, Message, Reply, from_ms, utcnow,
)
from chatcenter.attachments import wb_files
from chatcenter.wb_events import SetAsideEvent, WBChat, WBEvent

CLIENT, SELLER = "client", "seller"
REPLY_EVENT_PREFIX = "reply:"  # wb_event_id of a sent reply until WB's feed reports it (models.UNCONFIRMED_REPLY)


@dataclass
class PageResult:
    chats_added: int = 0
    messages_added: int = 0
    buyer_messages_added: int = 0
    # Chats given a new buyer message by this page: due for an analysis.
    buyer_chat_ids: set[int] = field(default_factory=set)
    # A new event saying "new chat" (isNewChat): the chat list has its name and card.
    new_chat_announced: bool = False
    # When each added message was written (WB's addTimestamp): how fresh the feed is.
    sent_times: list[datetime] = field(default_factory=list)
    # Messages given files to fetch from WB (jobs/attachments.py).
    file_message_ids: set[int] = field(default_factory=set)


# Rows per statement: well under SQLite's and PostgreSQL's bound-parameter limits.
CHUNK = 1000


class _Driver:
    """The session's connection for statements sent to the DB driver as they are: ingest
    builds its rows as plain tuples, once, instead of SQLAlchemy's per-row processing."""

    def __init__(self, session: Session):
        self.connection = session.connection()
        self.name = self.connection.dialect.name
        if self.name not in ("postgresql", "sqlite"):
            raise RuntimeError(f"unsupported database: {self.name}")
        self.mark = "?" if self.name == "sqlite" else "%s"

    def time(self, value: datetime | None):
        """An aware datetime as the column stores it: SQLite keeps SQLAlchemy's UTC text."""
        if value is None or self.name != "sqlite":
            return value
        if value.tzinfo is not timezone.utc:
            value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def insert(self, table, columns: tuple[str, ...], rows: list[tuple], conflict: str, returning: str):
        """INSERT rows (tuples in `columns` order) skipping those the `conflict` key already
        holds; yields the RETURNING rows."""
        for sql, params in self._inserts(table, columns, rows, conflict, f" RETURNING {returning}"):
            yield from self.connection.exec_driver_sql(sql, params)

    def add(self, table, columns: tuple[str, ...], rows: list[tuple], conflict: str) -> None:
        """insert() when nothing needs to be read back."""
        for sql, params in self._inserts(table, columns, rows, conflict, ""):
            self.connection.exec_driver_sql(sql, params)

    def _inserts(self, table, columns: tuple[str, ...], rows: list[tuple], conflict: str, returning: str):
        """The statements, in chunks: on PostgreSQL the rows as one JSON parameter
        (_pg_rows), on SQLite as multi-row VALUES."""
        head = f"INSERT INTO {table.name} ({', '.join(columns)}) "
        tail = f" ON CONFLICT ({conflict}) DO NOTHING{returning}"
        for chunk in _chunks(rows):
            if self.name == "postgresql":
                yield f"{head}{_pg_rows(table, columns)}{tail}", (_pg_payload(chunk),)
            else:
                one = f"({', '.join('?' * len(columns))})"
                yield f"{head}VALUES {', '.join([one] * len(chunk))}{tail}", tuple(v for r in chunk for v in r)

    @staticmethod
    def json(value):
        """A JSON column's value as SQLAlchemy's JSON type writes it (None: SQL NULL)."""
        return None if value is None else json.dumps(value)


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


_CHATS, _MESSAGES = Chat.__table__, Message.__table__
# The chat columns a page of events reads and may change (record_message's copied columns,
# the reply sign, the buyer's name, and the status a buyer message reopens); the chat list
# adds the goods card.
_STATE_COLUMNS = ("last_message_at", "last_message_id", "awaiting_reply", "waiting_since", "analysis_due",
                  "reply_sign", "client_name", "urgency", "last_buyer_message_id", "status", "snoozed_until")


class ChatState:
    """A chat's changeable columns as plain attributes: pages are stored with statements
    sent to the driver, not ORM objects, which is what keeps ingest fast."""

    def __init__(self, chat_id: int, wb_chat_id: str, loaded: tuple, columns: tuple[str, ...]):
        self.id, self.wb_chat_id, self._loaded = chat_id, wb_chat_id, loaded
        self.__dict__.update(zip(columns, loaded))
        self._values = _getters(columns)

    def values(self) -> tuple:
        return self._values(self)

    def changed(self) -> bool:
        return self.values() != self._loaded


_getters = functools.cache(lambda columns: attrgetter(*columns))


def _sqlite_time(value: str | None) -> datetime | None:
    """SQLAlchemy's UTC text on SQLite, read back as an aware datetime."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


def _readers(driver: _Driver, columns: tuple[str, ...]) -> list:
    """For each column, what turns the driver's value into SQLAlchemy's (None: as it is)."""
    if driver.name != "sqlite":
        return [None] * len(columns)  # psycopg returns datetimes, booleans and JSON as such
    readers = []
    for name in columns:
        kind = _CHATS.c[name].type
        readers.append(_sqlite_time if isinstance(kind, models.UTCDateTime)
                       else (lambda v: None if v is None else bool(v)) if isinstance(kind, Boolean)
                       else (lambda v: None if v is None else json.loads(v)) if isinstance(kind, JSON)
                       else None)
    return readers


def _chat_states(session: Session, seller_id: int, wb_ids, columns=_STATE_COLUMNS) -> dict[str, ChatState]:
    """The chats' states by WB id, read through the driver (no per-row result processing).

    On PostgreSQL the rows are locked until the transaction ends: what is read here is
    written back, so an analysis or a sent reply committing in between must wait, not be
    overwritten (or a reply stored twice: store_sent_reply locks the same row)."""
    driver = _Driver(session)
    readers = [(i, read) for i, read in enumerate(_readers(driver, columns)) if read is not None]
    found: dict[str, ChatState] = {}
    select_ = f"SELECT id, wb_chat_id, {', '.join(columns)} FROM {_CHATS.name} WHERE seller_id = {driver.mark} AND "
    for chunk in _chunks(sorted(wb_ids)):
        if driver.name == "postgresql":  # one array parameter: the same statement for any chunk
            sql, params = select_ + "wb_chat_id = ANY(%s) FOR UPDATE", (seller_id, chunk)
        else:
            sql, params = select_ + f"wb_chat_id IN ({', '.join('?' * len(chunk))})", (seller_id, *chunk)
        for row in driver.connection.exec_driver_sql(sql, params):
            loaded = list(row[2:])
            for i, read in readers:
                loaded[i] = read(loaded[i])
            found[row[1]] = ChatState(row[0], row[1], tuple(loaded), columns)
    return found


def _save_chat_states(session: Session, states, columns=_STATE_COLUMNS) -> None:
    """UPDATE the changed chats, with driver values built here (no per-row SQLAlchemy
    parameter processing)."""
    driver = _Driver(session)
    types = [_CHATS.c[name].type for name in columns]
    times = [i for i, kind in enumerate(types) if isinstance(kind, models.UTCDateTime)]
    jsons = [i for i, kind in enumerate(types) if isinstance(kind, JSON)]
    rows = []
    for state in states:
        if state.changed():
            values = list(state.values())
            for i in times:
                values[i] = driver.time(values[i])
            for i in jsons:
                values[i] = driver.json(values[i])
            values.append(state.id)
            rows.append(tuple(values))
    if not rows:
        return
    if driver.name == "postgresql":
        # One statement per chunk, its rows in one parameter: a statement per row (executemany)
        # costs PostgreSQL a parse, a plan and an executor start-up each.
        assignments = ", ".join(f"{name} = v.{name}" for name in columns)
        sql = (f"UPDATE {_CHATS.name} SET {assignments} FROM ({_pg_rows(_CHATS, (*columns, 'id'))}) AS v "
               f"WHERE {_CHATS.name}.id = v.id")
        for chunk in _chunks(rows):
            driver.connection.exec_driver_sql(sql, (_pg_payload(chunk),))
        return
    assignments = ", ".join(f"{name} = {driver.mark}" for name in columns)
    sql = f"UPDATE {_CHATS.name} SET {assignments} WHERE id = {driver.mark}"
    for chunk in _chunks(rows):
        driver.connection.exec_driver_sql(sql, chunk)


@functools.cache
def _pg_rows(table, columns: tuple[str, ...]) -> str:
    """A SELECT of rows sent as one JSON array of arrays (_pg_payload), each value cast to
    its column's type. json.dumps and PostgreSQL's JSON parser are C; psycopg's array
    adaptation, per value in Python, cost the sync a quarter of its CPU."""
    casts = ", ".join(f"(r->>{i})::{table.c[name].type.compile(dialect=postgresql.dialect())} AS {name}"
                      for i, name in enumerate(columns))
    return f"SELECT {casts} FROM jsonb_array_elements(%s::jsonb) AS r"


def _pg_payload(rows: list[tuple]) -> str:
    return json.dumps(rows, ensure_ascii=False, default=_iso)


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not sent as JSON")


_NEW_CHAT_COLUMNS = ("seller_id", "wb_chat_id", "awaiting_reply", "analysis_due", "priority", "created_at",
                     "last_message_at", "reply_sign", "client_name", "good_card")


def _add_chats(session: Session, seller_id: int, new: dict[str, dict]) -> int:
    """Insert chats by WB id (values: their columns); a chat another run added meanwhile is
    skipped by the database. Returns how many this call added."""
    driver = _Driver(session)
    now = driver.time(utcnow())
    rows = [(seller_id, wb_id, False, False, DEFAULT_PRIORITY, now, driver.time(values.get("last_message_at")) or now,
             values.get("reply_sign"), values.get("client_name"), driver.json(values.get("good_card")))
            for wb_id, values in new.items()]
    return sum(1 for _ in driver.insert(_CHATS, _NEW_CHAT_COLUMNS, rows, "seller_id, wb_chat_id", "id"))


_LIST_COLUMNS = ("last_message_at", "reply_sign", "client_name", "good_card")


def store_chat_list(session: Session, seller_id: int, wb_chats: list[WBChat]) -> int:
    """Insert new chats and refresh known ones; return how many were added."""
    known = _chat_states(session, seller_id, {c.chat_id for c in wb_chats}, _LIST_COLUMNS)
    new = {}
    for wb_chat in wb_chats:
        last = from_ms(wb_chat.last_message_ms)
        chat = known.get(wb_chat.chat_id)
        if chat is None:
            new[wb_chat.chat_id] = {"reply_sign": wb_chat.reply_sign, "client_name": wb_chat.client_name,
                                    "good_card": wb_chat.good_card, **({"last_message_at": last} if last else {})}
            continue
        if last and last > chat.last_message_at:
            chat.last_message_at = last
        chat.reply_sign = wb_chat.reply_sign or chat.reply_sign
        chat.client_name = wb_chat.client_name or chat.client_name
        chat.good_card = wb_chat.good_card or chat.good_card
    _save_chat_states(session, known.values(), _LIST_COLUMNS)
    return _add_chats(session, seller_id, new)


_SET_ASIDE_COLUMNS = ("seller_id", "digest", "wb_event_id", "kind", "created_at")


def store_set_aside(session: Session, seller_id: int, events: list[SetAsideEvent]) -> list[SetAsideEvent]:
    """Record events set aside; return those not recorded before (an event re-read at a
    page boundary, or by the next run, counts once)."""
    if not events:
        return []
    driver = _Driver(session)
    now = driver.time(utcnow())
    rows = [(seller_id, e.digest, e.event_id, e.kind, now) for e in {e.digest: e for e in events}.values()]
    new = {digest for digest, in driver.insert(models.SetAsideEvent.__table__, _SET_ASIDE_COLUMNS, rows,
                                                "seller_id, digest", "digest")}
    first_time = []
    for event in events:
        if event.digest in new:
            first_time.append(event)
            new.discard(event.digest)  # the same event twice in one batch counts once
    return first_time


def record_message(chat: Chat, message: Message) -> None:
    """Update the chat's copied columns for a message just added (flushed: it has an id)."""
    _count_traffic(object_session(chat), chat.seller_id, [(message.sender, message.sent_at)])
    asked_at = _record(chat, message.id, message.sender, message.sent_at)
    if asked_at is not None:
        _store_responses(_Driver(object_session(chat)), [(chat.id, chat.seller_id, message.id, asked_at,
                                                          message.sent_at, chat.urgency)])


def _record(chat: Chat, message_id: int, sender: str, sent_at: datetime) -> datetime | None:
    """Returns, for a seller message that answers a waiting buyer, when the wait began."""
    if sender == CLIENT and message_id > (chat.last_buyer_message_id or 0):
        chat.last_buyer_message_id = message_id  # late or not: operators have not seen it
    if chat.last_message_id is not None and sent_at < chat.last_message_at:
        if sender == CLIENT:  # an older buyer message arriving late still needs reading
            chat.analysis_due = True
        return None
    chat.last_message_at = sent_at
    chat.last_message_id = message_id
    if sender == CLIENT:
        chat.analysis_due = True
        if not chat.awaiting_reply:
            chat.awaiting_reply = True
            chat.waiting_since = sent_at
    elif sender == SELLER:
        asked_at = chat.waiting_since if chat.awaiting_reply else None
        chat.awaiting_reply = False
        chat.waiting_since = None
        return asked_at
    return None


def _reopen(chat: ChatState, now: datetime) -> bool:
    """A new buyer message opens a resolved or snoozed chat again; True when it was closed
    (a snooze already past its time is cleared without a word: the chat was open)."""
    was = effective_status(chat.status, chat.snoozed_until, now)
    chat.status, chat.snoozed_until = ChatStatus.OPEN, None
    return was != ChatStatus.OPEN


_TRAFFIC = models.TrafficHour.__table__


def _count_traffic(session: Session, seller_id: int, messages: list[tuple[str, datetime]]) -> None:
    """Add stored messages (sender, time) to their seller's hourly counts: one upsert of at
    most a row per hour the messages fall in."""
    counts: dict[datetime, list[int]] = {}
    for sender, sent_at in messages:
        if sender in (CLIENT, SELLER):
            hour = sent_at.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
            counts.setdefault(hour, [0, 0])[0 if sender == CLIENT else 1] += 1
    if not counts:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_TRAFFIC).values([{"seller_id": seller_id, "hour": hour, "incoming": n_in,
                                                  "outgoing": n_out} for hour, (n_in, n_out) in counts.items()])
    session.execute(statement.on_conflict_do_update(
        index_elements=["seller_id", "hour"],
        set_={"incoming": _TRAFFIC.c.incoming + statement.excluded.incoming,
              "outgoing": _TRAFFIC.c.outgoing + statement.excluded.outgoing}))


_RESPONSES = models.Response.__table__
_RESPONSE_COLUMNS = ("chat_id", "seller_id", "message_id", "asked_at", "answered_at", "seconds", "urgency")


def _store_responses(driver: "_Driver", rows: list[tuple]) -> None:
    """Each answer to a waiting buyer, with how long the buyer waited and the urgency the
    chat had then (its target): the reports read these rather than pair up a million
    messages per page view."""
    values = [(chat_id, seller_id, message_id, driver.time(asked), driver.time(answered),
               max(0.0, (answered - asked).total_seconds()), urgency)
              for chat_id, seller_id, message_id, asked, answered, urgency in rows]
    driver.add(_RESPONSES, _RESPONSE_COLUMNS, values, "message_id")


def store_events(session: Session, seller_id: int, events: list[WBEvent]) -> PageResult:
    """Store one page of cleaned message events; events already stored are skipped by the
    database (the unique chat/event key), so a page read twice adds nothing."""
    result = PageResult()
    messages = list({(e.chat_id, e.event_id): e for e in events if e.event_type == "message"}.values())
    if not messages:
        return result
    chats = _chat_states(session, seller_id, {e.chat_id for e in messages})
    first_seen: dict[str, dict] = {}
    for e in sorted(messages, key=lambda e: e.timestamp_ms):
        if e.chat_id not in chats and e.chat_id not in first_seen:  # started after the chat list was read
            first_seen[e.chat_id] = {"last_message_at": e.sent_at, "reply_sign": e.reply_sign,
                                     "client_name": e.client_name}
    if first_seen:
        result.chats_added = _add_chats(session, seller_id, first_seen)
        chats.update(_chat_states(session, seller_id, set(first_seen)))

    adopted = _adopt_sent_replies(session, chats, [e for e in messages if e.sender == SELLER])
    by_id = {chat.id: chat for chat in chats.values()}
    inserted = _insert_messages(session, [(chats[e.chat_id].id, e) for e in messages
                                          if (e.chat_id, e.event_id) not in adopted])
    answers, reopened, now = [], [], utcnow()
    for chat_id, message_id, event, sent_at in inserted:
        chat = by_id[chat_id]
        chat.reply_sign = event.reply_sign or chat.reply_sign
        chat.client_name = event.client_name or chat.client_name
        asked_at = _record(chat, message_id, event.sender, sent_at)
        if asked_at is not None:
            answers.append((chat_id, seller_id, message_id, asked_at, sent_at, chat.urgency))
        result.messages_added += 1
        result.sent_times.append(sent_at)
        result.new_chat_announced |= event.is_new_chat
        if event.sender == CLIENT:
            result.buyer_messages_added += 1
            result.buyer_chat_ids.add(chat.id)
            if _reopen(chat, now):
                reopened.append(chat.id)
    _save_chat_states(session, chats.values())
    reopened_by_buyer(session, reopened, now)
    if answers:
        _store_responses(_Driver(session), answers)
    result.file_message_ids = _add_wb_files(session, [(chat_id, message_id, event.attachments)
                                                      for chat_id, message_id, event, _ in inserted if event.attachments])
    _count_traffic(session, seller_id, [(event.sender, sent_at) for _, _, event, sent_at in inserted])
    return result


_ATTACHMENTS = models.Attachment.__table__
_ATTACHMENT_COLUMNS = ("chat_id", "message_id", "position", "download_id", "kind", "name", "content_type", "size",
                       "state", "created_at")


def _add_wb_files(session: Session, messages: list[tuple[int, int, object]]) -> set[int]:
    """A row (state pending) for each image and file of the messages' WB attachments (chat
    id, message id, raw attachments); a file the chat already has is skipped by the
    database. Returns the messages given files to fetch."""
    files = [(chat_id, message_id, f) for chat_id, message_id, raw in messages for f in wb_files(raw)]
    if not files:  # most pages: no message with a file
        return set()
    driver = _Driver(session)
    now = driver.time(utcnow())
    rows = [(chat_id, message_id, f.position, f.download_id, f.kind, f.name, f.content_type, f.size,
             models.AttachmentState.PENDING, now) for chat_id, message_id, f in files]
    return {message_id for message_id, in driver.insert(_ATTACHMENTS, _ATTACHMENT_COLUMNS, rows,
                                                        "chat_id, download_id", "message_id")}


_MESSAGE_COLUMNS = ("chat_id", "wb_event_id", "sender", "text", "attachments", "sent_at")


def _insert_messages(session: Session, rows: list[tuple[int, WBEvent]]) -> list[tuple]:
    """Insert (chat id, event) rows; those already stored are skipped by the unique
    chat/event key. Returns the inserted ones as (chat id, message id, event, sent_at), in
    the order they happened (sent_at, then id)."""
    driver = _Driver(session)
    by_key, values = {}, []
    for chat_id, e in rows:
        sent_at = from_ms(e.timestamp_ms)
        by_key[(chat_id, e.event_id)] = (e, sent_at)
        values.append((chat_id, e.event_id, e.sender, e.text, driver.json(e.attachments), driver.time(sent_at)))
    inserted = []
    for message_id, chat_id, event_id in driver.insert(_MESSAGES, _MESSAGE_COLUMNS, values, "chat_id, wb_event_id",
                                                       "id, chat_id, wb_event_id"):
        event, sent_at = by_key[(chat_id, event_id)]
        inserted.append((chat_id, message_id, event, sent_at))
    inserted.sort(key=lambda row: (row[3], row[1]))
    return inserted


def _adopt_sent_replies(session: Session, chats: dict[str, ChatState],
                        events: list[WBEvent]) -> set[tuple[str, str]]:
    """WB's feed reporting replies we stored when sending them: give each WB's id, add
    nothing. Returns the (chat, event) ids so adopted."""
    if not events:
        return set()
    pending = _unconfirmed_replies(_Driver(session), sorted({chats[e.chat_id].id for e in events}))
    if not pending:
        return set()
    adopted = set()
    for event in events:
        chat_id = chats[event.chat_id].id
        sent = next((m for m in pending if m.chat_id == chat_id and m.text == event.text), None)
        if sent is None or session.scalar(select(Message.id).where(
                Message.chat_id == chat_id, Message.wb_event_id == event.event_id)) is not None:
            continue
        session.execute(update(Message).where(Message.id == sent.id).values(wb_event_id=event.event_id)
                        .execution_options(synchronize_session=False))
        pending.remove(sent)
        adopted.add((event.chat_id, event.event_id))
    return adopted


def _unconfirmed_replies(driver: _Driver, chat_ids: list[int]) -> list:
    """The chats' replies stored before WB's feed reported them, oldest first. The chat ids
    go as one array on PostgreSQL: a thousand expanded IN parameters cost more than the
    (partial-index) lookup itself."""
    unconfirmed = models.UNCONFIRMED_REPLY.text  # as written, so the partial index applies
    if driver.mark == "%s":
        unconfirmed = unconfirmed.replace("%", "%%")
    select_ = f"SELECT id, chat_id, text FROM {_MESSAGES.name} WHERE {unconfirmed} AND sender = {driver.mark} AND "
    pending = []
    for chunk in _chunks(chat_ids):
        if driver.name == "postgresql":
            sql, params = select_ + "chat_id = ANY(%s)", (SELLER, chunk)
        else:
            sql, params = select_ + f"chat_id IN ({', '.join('?' * len(chunk))})", (SELLER, *chunk)
        pending.extend(driver.connection.exec_driver_sql(sql, params))
    pending.sort(key=lambda row: row.id)
    return pending


# How far WB's time for a sent reply may be from its feed event's (the answer's addTime,
# or our clock when WB gave none).
SENT_REPLY_SLACK = timedelta(seconds=60)


def store_sent_reply(session: Session, chat: Chat, reply_id: int, text: str, sent_at: datetime) -> Message:
    """The seller message for a reply WB accepted; the chat stops awaiting an answer.

    A sync may have stored WB's feed event of this very reply first (it reads the feed while
    the reply is being sent): that message is the reply's then, not a second copy. The chat
    row is locked first, as a sync locks it, so the two cannot both miss each other."""
    session.execute(select(Chat.id).where(Chat.id == chat.id).with_for_update())
    claimed = exists().where(Reply.chat_id == chat.id, Reply.message_id == Message.id)
    from_feed = session.scalar(
        select(Message).where(Message.chat_id == chat.id, Message.sender == SELLER, Message.text == text,
                              Message.wb_event_id.not_like(f"{REPLY_EVENT_PREFIX}%"), ~claimed,
                              Message.sent_at.between(sent_at - SENT_REPLY_SLACK, sent_at + SENT_REPLY_SLACK))
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(1))
    if from_feed is not None:
        return from_feed
    message = Message(chat_id=chat.id, wb_event_id=f"{REPLY_EVENT_PREFIX}{reply_id}", sender=SELLER,
                      text=text, sent_at=sent_at)
    session.add(message)
    session.flush()
    record_message(chat, message)
    return message


def _unclaimed_seller_message(chat_id: int, text: str):
    """A seller message of the chat with this text that no reply has taken as its own yet
    (a reply we stored when sending it, `reply:<id>`, is its reply's from the start)."""
    claimed = exists().where(Reply.chat_id == chat_id, Reply.message_id == Message.id)
    return select(Message).where(Message.chat_id == chat_id, Message.sender == SELLER, Message.text == text,
                                 Message.wb_event_id.not_like(f"{REPLY_EVENT_PREFIX}%"), ~claimed)


def stored_echo(session: Session, chat: Chat, text: str, since: datetime) -> Message | None:
    """WB's echo of a reply sent at `since` (or later), as a sync stored it: the oldest such
    message no other reply has claimed. The chat row is locked first, as a sync locks it."""
    session.execute(select(Chat.id).where(Chat.id == chat.id).with_for_update())
    return session.scalar(_unclaimed_seller_message(chat.id, text).where(Message.sent_at >= since)
                          .order_by(Message.sent_at, Message.id).limit(1))


def store_echo(session: Session, chat: Chat, event: WBEvent) -> Message | None:
    """The message for WB's feed event echoing one of our replies, stored under WB's own
    event id (so the sync storing the same event later adds nothing), or found when a sync
    stored it first; None when another reply already claimed it."""
    session.execute(select(Chat.id).where(Chat.id == chat.id).with_for_update())
    found = session.scalar(select(Message).where(Message.chat_id == chat.id, Message.wb_event_id == event.event_id))
    if found is not None:
        claimed = session.scalar(select(Reply.id).where(Reply.chat_id == chat.id, Reply.message_id == found.id))
        return None if claimed is not None else found
    message = Message(chat_id=chat.id, wb_event_id=event.event_id, sender=SELLER, text=event.text,
                      attachments=event.attachments, sent_at=event.sent_at)
    session.add(message)
    session.flush()
    record_message(chat, message)
    # No WB copies of the reply's own files: the operator's are joined to it (attach_reply_files).
    return message


def store_analysis(session: Session, chat: Chat, analysis: Analysis, read_up_to: int | None = None) -> None:
    """Add an analysis and make it the chat's latest; the chat stays due if a buyer message
    it did not read (an id above `read_up_to`, by default the message it covers) arrived
    meanwhile."""
    session.add(analysis)
    session.flush()
    chat.latest_analysis_id = analysis.id
    chat.sentiment, chat.category, chat.urgency = analysis.sentiment, analysis.category, analysis.urgency
    chat.priority = PRIORITIES.get(analysis.urgency, DEFAULT_PRIORITY)
    settle_analysis_due(session, chat, analysis.last_message_id if read_up_to is None else read_up_to)


def settle_analysis_due(session: Session, chat: Chat, read_up_to: int) -> None:
    """Clear the chat's "due" only for what an analysis read (messages up to id `read_up_to`).

    The chat row is locked first: a sync storing a buyer message updates this row in the
    same transaction, so either it committed before (and its message is seen below) or it
    waits and sets "due" again after us. (SQLite has one writer at a time anyway.)
    """
    session.execute(select(Chat.id).where(Chat.id == chat.id).with_for_update())
    unread = session.scalar(select(Message.id).where(
        Message.chat_id == chat.id, Message.sender == CLIENT, Message.id > read_up_to).limit(1))
    chat.analysis_due = unread is not None


def attach_reply_files(session: Session, reply_id: int, message_id: int) -> None:
    """A sent reply's files join its message (the thread and the API show them there). When
    the message is WB's echo stored from the feed, WB's copies of those files are dropped:
    the operator's originals are the same files, and fetching them again would spend WB's
    budget."""
    Attachment = models.Attachment
    joined = session.execute(update(Attachment).where(Attachment.reply_id == reply_id)
                             .values(message_id=message_id).execution_options(synchronize_session=False)).rowcount
    if joined:
        session.execute(delete(Attachment).where(Attachment.message_id == message_id, Attachment.reply_id.is_(None))
                        .execution_options(synchronize_session=False))
