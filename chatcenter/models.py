"""Tables: sellers, their chats and messages, the AI analyses of chats, operators' replies,
and the credentials of the people who use the service (API keys, inbox operators).

A chat carries a few values copied from its newest message and latest analysis (what
the inbox sorts and filters by), kept current by the code that writes those rows, so
listing chats never has to search the messages or analyses tables.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String,
    Text, TypeDecorator, UniqueConstraint, event, false, text, true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite drops the zone on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return None if value is None else value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    pass


class SyncState:
    IDLE = "idle"
    RUNNING = "running"
    OK = "ok"
    ERROR = "error"          # transient: the next round tries again
    AUTH_ERROR = "auth_error"  # permanent until the token changes


class Seller(Base):
    __tablename__ = "sellers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The seller's WB API token: a secret, never logged, shown or sent to Sentry.
    wb_token: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    events_cursor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sync_state: Mapped[str] = mapped_column(String(20), default=SyncState.IDLE)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the chat list was last read from WB (it is refreshed now and then, not every poll).
    chats_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # WB events that could not be stored even after cleaning, skipped so the feed moves on.
    set_aside_events: Mapped[int] = mapped_column(Integer, default=0)
    # Set by the poller while the seller's polls fail (WB unreachable, 5xx, token refused),
    # cleared by the first good poll: the sellers page and the inbox banner show them.
    poll_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    poll_failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    chats: Mapped[list["Chat"]] = relationship(back_populates="seller")

    def __repr__(self) -> str:  # no token
        return f"<Seller id={self.id} name={self.name!r} state={self.sync_state}>"


# The inbox answers high urgency first; a chat not analysed yet counts as medium.
PRIORITIES = {"high": 0, "medium": 1, "low": 2}
DEFAULT_PRIORITY = 1


class ChatStatus:
    OPEN = "open"
    RESOLVED = "resolved"
    SNOOZED = "snoozed"  # shown and filtered; stored as open with a future snoozed_until


# The chats with a snooze time (past or future): the "Snoozed" view's partial index.
SNOOZED = text("snoozed_until IS NOT NULL")


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (
        UniqueConstraint("seller_id", "wb_chat_id", name="uq_chats_seller_wb_chat"),
        # Newest activity first (the API's order), overall and per seller.
        Index("ix_chats_activity", "last_message_at", "id"),
        Index("ix_chats_seller_activity", "seller_id", "last_message_at", "id"),
        # The inbox: awaiting a reply first, by urgency, then the longest wait; then the rest.
        Index("ix_chats_queue", "awaiting_reply", "priority", "waiting_since", "id"),
        Index("ix_chats_awaiting_activity", "awaiting_reply", "last_message_at", "id"),
        # Filters by the latest analysis, newest activity first (selective filters would
        # otherwise walk the whole activity index).
        Index("ix_chats_sentiment_activity", "sentiment", "last_message_at", "id"),
        Index("ix_chats_category_activity", "category", "last_message_at", "id"),
        Index("ix_chats_urgency_activity", "urgency", "last_message_at", "id"),
        # Chats awaiting a reply counted per seller (/metrics): a third of the chats, read
        # from this index alone (56 ms -> 4 ms at 100,000 chats).
        Index("ix_chats_awaiting_per_seller", "seller_id",
              postgresql_where=text("awaiting_reply"), sqlite_where=text("awaiting_reply")),
        # The inbox's views (chatcenter.queries.ChatFilter): by status, and by assignee
        # ("Mine", "Unassigned"), each in the inbox order and by newest activity; the few
        # chats with a snooze time (SNOOZED) by activity.
        Index("ix_chats_status_queue", "status", "awaiting_reply", "priority", "waiting_since", "id"),
        Index("ix_chats_status_activity", "status", "last_message_at", "id"),
        Index("ix_chats_assignee_queue", "assignee_id", "status", "awaiting_reply", "priority", "waiting_since", "id"),
        Index("ix_chats_assignee_activity", "assignee_id", "status", "last_message_at", "id"),
        Index("ix_chats_snoozed_activity", "last_message_at", "id", postgresql_where=SNOOZED, sqlite_where=SNOOZED),
        # Unread chats (chat_reads): the chats with the newest buyer messages, newest first.
        Index("ix_chats_last_buyer_message", "last_buyer_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    wb_chat_id: Mapped[str] = mapped_column(String(100))
    reply_sign: Mapped[str | None] = mapped_column(String(255), nullable=True)
    client_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    good_card: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # The newest activity: the newest message's time, or when the chat was first seen.
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The newest stored message (no foreign key: chats and messages would refer to each other).
    last_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The newest buyer message (sender "client"), even one that arrived late: a chat is
    # unread for an operator while this is past what they last saw (ChatRead).
    last_buyer_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    awaiting_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the oldest buyer message still without an answer arrived; None when answered.
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A buyer message newer than the latest analysis: the chat is due for one. Durable, so
    # an analysis lost between commit and enqueue is caught up by the next sync.
    analysis_due: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Copied from the latest analysis (None before the first), for filters and order.
    latest_analysis_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sentiment: Mapped[str | None] = mapped_column(String(20), nullable=True)
    category: Mapped[str | None] = mapped_column(String(30), nullable=True)
    urgency: Mapped[str | None] = mapped_column(String(10), nullable=True)
    priority: Mapped[int] = mapped_column(SmallInteger, default=DEFAULT_PRIORITY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "open" or "resolved" (ChatStatus). A snoozed chat is an open one with snoozed_until in
    # the future: the snooze ends by itself at its time, with no process to wake it, and the
    # inbox's "open" stays one index range (chatcenter.chat_status).
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # No ON DELETE: operators are disabled, never deleted (and SQLite's ADD COLUMN, which
    # migration 0015 uses, writes a column's REFERENCES where reflection misses its options).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), nullable=True)

    seller: Mapped[Seller] = relationship(back_populates="chats")
    messages: Mapped[list["Message"]] = relationship(back_populates="chat", order_by="Message.sent_at")

    def __repr__(self) -> str:  # no buyer name
        return f"<Chat id={self.id} seller_id={self.seller_id}>"


# The prefix is chat_store.REPLY_EVENT_PREFIX; a literal, so that a query's condition
# matches the partial index's own.
UNCONFIRMED_REPLY = text("wb_event_id LIKE 'reply:%'")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_chat_sent", "chat_id", "sent_at", "id"),
        # WB event ids are unique within a chat; the same WB shop added as two sellers
        # has two copies of each chat, and each copy keeps all of its messages.
        UniqueConstraint("chat_id", "wb_event_id", name="uq_messages_chat_event"),
        # Sent replies the feed has not confirmed yet: a handful of rows, which every page
        # of a sync looks up (chat_store._adopt_sent_replies).
        Index("ix_messages_unconfirmed_replies", "chat_id",
              postgresql_where=UNCONFIRMED_REPLY, sqlite_where=UNCONFIRMED_REPLY),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    # A reply we sent is stored as "reply:<reply id>" until WB's feed reports its event id.
    wb_event_id: Mapped[str] = mapped_column(String(100))
    sender: Mapped[str] = mapped_column(String(20))  # client, seller, wb
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)

    chat: Mapped[Chat] = relationship(back_populates="messages")

    def __repr__(self) -> str:  # no text
        return f"<Message id={self.id} chat_id={self.chat_id} sender={self.sender}>"


class Analysis(Base):
    __tablename__ = "analyses"
    __table_args__ = (Index("ix_analyses_chat", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    # The newest message the analysis covers: re-analysing with nothing newer is a no-op.
    last_message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    sentiment: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(30))
    urgency: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    suggested_reply: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(100))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "chat_id": self.chat_id,
            "last_message_id": self.last_message_id,
            "sentiment": self.sentiment,
            "category": self.category,
            "urgency": self.urgency,
            "summary": self.summary,
            "suggested_reply": self.suggested_reply,
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "created_at": self.created_at.isoformat(),
        }


class Response(Base):
    """A buyer's wait and the seller message that ended it: the first-response time the
    reports are made of. Written as messages are stored (chat_store), one per answer."""

    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("message_id", name="uq_responses_message"),
        Index("ix_responses_answered", "answered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    # Not foreign keys (0011): checking them cost ingest more than they protect; the chat's
    # key deletes these rows with their chat.
    seller_id: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[int] = mapped_column(Integer)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)    # the buyer's first unanswered message
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the seller's answer
    seconds: Mapped[float] = mapped_column(Float)
    # The chat's urgency when it was answered (None: not analysed yet, counted as medium).
    urgency: Mapped[str | None] = mapped_column(String(10), nullable=True)


class TrafficHour(Base):
    """Messages in (the buyer's) and out (the seller's) per seller and UTC hour, counted as
    messages are stored: the reports' hourly chart reads these, not a week of messages."""

    __tablename__ = "traffic_hours"

    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)  # the hour's start
    incoming: Mapped[int] = mapped_column(Integer, default=0)
    outgoing: Mapped[int] = mapped_column(Integer, default=0)


class SetAsideEvent(Base):
    """A WB event that could not be stored even after cleaning: its kind and a digest, never
    its content. The digest makes an event re-read at a page boundary count once."""

    __tablename__ = "set_aside_events"
    __table_args__ = (UniqueConstraint("seller_id", "digest", name="uq_set_aside_events_seller_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the event as WB sent it
    wb_event_id: Mapped[str] = mapped_column(String(100))  # a plain short id, or "(no usable id)"
    kind: Mapped[str] = mapped_column(String(50))  # why, e.g. "eventID too long"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<SetAsideEvent id={self.id} seller_id={self.seller_id} kind={self.kind!r}>"


class ReplyState:
    QUEUED = "queued"
    SENDING = "sending"  # handed to WB; if the run dies now, WB may or may not have it
    SENT = "sent"
    # WB's answer was lost (timeout after sending, 5xx, a killed worker): WB may have it.
    # Settled against WB's event feed, never by sending blindly (chatcenter.replies).
    UNCONFIRMED = "unconfirmed"
    FAILED = "failed"  # certainly not delivered; `error` says why


OPEN_REPLY = text("state IN ('queued', 'sending', 'unconfirmed')")


class Reply(Base):
    """An operator's answer to a buyer: reaches WB exactly once; its text is kept whatever happens."""

    __tablename__ = "replies"
    __table_args__ = (
        # The same Idempotency-Key from the same requester names the same reply.
        UniqueConstraint("requested_by", "idempotency_key", name="uq_replies_idempotency"),
        Index("ix_replies_chat", "chat_id", "id"),
        # Replies not settled yet: a handful, which the poller looks up every round
        # (chatcenter.replies.recover_replies) among all the replies ever sent.
        Index("ix_replies_open", "id", postgresql_where=OPEN_REPLY, sqlite_where=OPEN_REPLY),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default=ReplyState.QUEUED)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # public reason
    message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # once stored
    requested_by: Mapped[str] = mapped_column(String(50))  # "api-key-3", "operator:5"
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the latest request left for WB (our clock), and how many left: WB's feed is read
    # from that moment to learn whether an unconfirmed reply arrived.
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def __repr__(self) -> str:  # no text
        return f"<Reply id={self.id} chat_id={self.chat_id} state={self.state}>"


class AttachmentState:
    PENDING = "pending"        # not fetched from WB yet
    MODERATION = "moderation"  # WB answered 202: it is still moderating the file
    READY = "ready"            # stored here, served from our own URL
    REFUSED = "refused"        # over the size limit, or not the type WB promised: `error` says why


OPEN_ATTACHMENT = text("state IN ('pending', 'moderation')")


class Attachment(Base):
    """A photo or file of a message: a buyer's (fetched from WB once, by a job) or one an
    operator attached to a reply (stored with the reply, joined to its message once sent).
    The bytes live in attachment_contents, so listing attachments never reads them."""

    __tablename__ = "attachments"
    __table_args__ = (
        # Each WB file once per chat: the URL names it by (chat, download id).
        UniqueConstraint("chat_id", "download_id", name="uq_attachments_chat_download"),
        Index("ix_attachments_message", "message_id", "position"),
        Index("ix_attachments_reply", "reply_id", "position"),
        # Files still to fetch: a handful, which the poller's recovery looks up every pass.
        Index("ix_attachments_open", "id", postgresql_where=OPEN_ATTACHMENT, sqlite_where=OPEN_ATTACHMENT),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), nullable=True)
    # An operator's file: the reply it goes with (message_id is set once the reply is sent).
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("replies.id", ondelete="CASCADE"), nullable=True)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    # WB's downloadID, or "reply-<reply id>-<position>" for an operator's file.
    download_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))  # image, file
    name: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(100), default="")
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    state: Mapped[str] = mapped_column(String(20), default=AttachmentState.PENDING)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # public reason (refused)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # moderation: next look
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # no name
        return f"<Attachment id={self.id} chat_id={self.chat_id} state={self.state}>"


class AttachmentContent(Base):
    """An attachment's bytes (at most 5 MB), apart from its row."""

    __tablename__ = "attachment_contents"

    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ApiKey(Base):
    """A key for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # False: the key sees only the sellers in api_key_sellers (none left: nothing), never all.
    all_sellers: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # A read-only key is refused (403) every request that asks for something (POST, PATCH, DELETE).
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    def __repr__(self) -> str:  # no hash
        return f"<ApiKey id={self.id}>"


class Operator(Base):
    """A person who signs in to the inbox; the password is stored as a scrypt hash."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Every session cookie carries the number it was signed in under; raising it (sign-out,
    # a new password, disabling) ends all of the operator's sessions at their next request.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # "admin": every seller, the Jobs and Reports pages; "agent": the sellers in operator_sellers.
    role: Mapped[str] = mapped_column(String(10), default="admin", server_default="admin")
    # Buyer messages up to this id count as seen by this operator (chatcenter.unread): set
    # to the newest message when they first open the inbox, so history is not all unread.
    read_floor_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    def __repr__(self) -> str:  # no e-mail
        return f"<Operator id={self.id} active={self.active}>"


class ChatChange(Base):
    """A change of a chat's status or assignee: who (an operator, an API key, the command
    line, or the buyer whose new message reopened it), what and when; shown in the thread."""

    __tablename__ = "chat_changes"
    __table_args__ = (Index("ix_chat_changes_chat", "chat_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # resolved, reopened, snoozed, assigned, unassigned
    # Who, as replies name requesters: "operator:5", "api-key-3", "cli" or "buyer".
    actor: Mapped[str] = mapped_column(String(50))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"), nullable=True)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<ChatChange id={self.id} chat_id={self.chat_id} kind={self.kind}>"


class ChatNote(Base):
    """An operators' note in a chat: for the team only, never sent to WB or to DeepSeek."""

    __tablename__ = "chat_notes"
    __table_args__ = (Index("ix_chat_notes_chat", "chat_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(50))  # as ChatChange.actor
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # no text
        return f"<ChatNote id={self.id} chat_id={self.chat_id}>"


class OperatorSeller(Base):
    """A seller an agent may see and answer for (admins see every seller)."""

    __tablename__ = "operator_sellers"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)


class ApiKeySeller(Base):
    """A seller an API key created for some sellers may see (ApiKey.all_sellers false)."""

    __tablename__ = "api_key_sellers"

    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True)


class ChatRead(Base):
    """The newest message of a chat an operator has seen (when they last opened it)."""

    __tablename__ = "chat_reads"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)
    last_seen_message_id: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SavedReply(Base):
    """A team-wide template of a reply ("saved reply"): a name to pick it by and a text with
    placeholders such as {buyer_name}, filled for a chat (chatcenter/saved_replies.py)."""

    __tablename__ = "saved_replies"
    __table_args__ = (UniqueConstraint("name", name="uq_saved_replies_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:  # no text
        return f"<SavedReply id={self.id}>"


@event.listens_for(Message.__table__, "after_create")
def _build_search_index(_table, connection, **_):
    """create_all builds search's full-text index too (chats, created first, and messages)."""
    from chatcenter.search_index import build  # database-specific DDL, outside the models

    build(connection)
