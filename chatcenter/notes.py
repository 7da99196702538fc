"""Operators' internal notes in a chat: written by the team for the team. They live in
their own table, so nothing that talks to WB (replies) or to DeepSeek (the prompt reads
messages only) can pick one up."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatcenter.errors import NotFound
from chatcenter.models import Chat, ChatNote, utcnow
from chatcenter.texts import clean_text

NOTE_MAX = 2000  # characters after trimming: a paragraph or two for a colleague


def add_note(session: Session, chat_id: int, text, author: str) -> ChatNote:
    text = clean_text(text, NOTE_MAX)
    if session.scalar(select(Chat.id).where(Chat.id == chat_id)) is None:
        raise NotFound.of("chat", chat_id)
    note = ChatNote(chat_id=chat_id, author=author, text=text, created_at=utcnow())
    session.add(note)
    session.flush()
    return note
