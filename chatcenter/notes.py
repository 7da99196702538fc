"""Operators' internal notes in a chat: written by the team for the team. They live in
their own table, so nothing that talks to WB (replies) or to DeepSeek (the prompt reads
messages only) can pick one up."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatcenter.errors import BadInput, NotFound
from chatcenter.models import Chat, ChatNote, utcnow

NOTE_MAX = 2000  # characters after trimming: a paragraph or two for a colleague


def clean_note_text(text) -> str:
    if not isinstance(text, str):
        raise BadInput("text", "must be a string")
    text = text.strip()
    if not 1 <= len(text) <= NOTE_MAX:
        raise BadInput("text", f"must be 1 to {NOTE_MAX} characters after trimming, got {len(text)}")
    if "\x00" in text:  # PostgreSQL cannot store it
        raise BadInput("text", "must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("text", "is not valid Unicode text (a lone surrogate)") from None
    return text


def add_note(session: Session, chat_id: int, text, author: str) -> ChatNote:
    text = clean_note_text(text)
    if session.scalar(select(Chat.id).where(Chat.id == chat_id)) is None:
        raise NotFound.of("chat", chat_id)
    note = ChatNote(chat_id=chat_id, author=author, text=text, created_at=utcnow())
    session.add(note)
    session.flush()
    return note
