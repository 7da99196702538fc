"""Tables: sellers, their chats and messages, and the AI analyses of chats."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text,
    TypeDecorator, UniqueConstraint,
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    chats: Mapped[list["Chat"]] = relationship(back_populates="seller")

    def __repr__(self) -> str:  # no token
        return f"<Seller id={self.id} name={self.name!r} state={self.sync_state}>"


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("seller_id", "wb_chat_id", name="uq_chats_seller_wb_chat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id", ondelete="CASCADE"), index=True)
    wb_chat_id: Mapped[str] = mapped_column(String(100))
    reply_sign: Mapped[str | None] = mapped_column(String(255), nullable=True)
    client_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    good_card: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    awaiting_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    seller: Mapped[Seller] = relationship(back_populates="chats")
    messages: Mapped[list["Message"]] = relationship(back_populates="chat", order_by="Message.sent_at")

    def __repr__(self) -> str:  # no buyer name
        return f"<Chat id={self.id} seller_id={self.seller_id}>"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_chat_sent", "chat_id", "sent_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    wb_event_id: Mapped[str] = mapped_column(String(100), unique=True)
    sender: Mapped[str] = mapped_column(String(20))  # client, seller, wb
    text: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)

    chat: Mapped[Chat] = relationship(back_populates="messages")

    def __repr__(self) -> str:  # no text
        return f"<Message id={self.id} chat_id={self.chat_id} sender={self.sender}>"


class Analysis(Base):
    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), index=True)
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
