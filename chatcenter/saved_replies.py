"""Saved replies: the team's reply templates, for the API, the inbox and the CLI alike.

A template's text may hold placeholders, filled for a chat: {buyer_name} (the buyer's first
name, empty when WB gave none) and {nm_id} (the WB article of the chat's product, empty when
none). Any other {word} is refused when the template is saved, so a typo cannot reach a buyer.
Other braces are plain text. The filled text must fit WB's limit for one message.
"""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chatcenter import contract
from chatcenter.wb_events import MESSAGE_MAX
from chatcenter.errors import BadInput, Conflict, NotFound, Unprocessable
from chatcenter.models import Chat, SavedReply, utcnow
from chatcenter.queries import first_name

NAME_MAX = 100
PLACEHOLDERS = ("buyer_name", "nm_id")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TooLongFilled(Unprocessable):
    def __init__(self, length: int):
        self.length = length
        super().__init__(f"text: filled for this chat it is {length} characters, over WB's limit of {MESSAGE_MAX}; "
                         "shorten the saved reply")


def braced(names) -> str:
    return ", ".join("{" + name + "}" for name in names)


class UnknownPlaceholders(BadInput):
    def __init__(self, names: list[str]):
        super().__init__("text", f"has unknown placeholders {braced(names)} (known: {braced(PLACEHOLDERS)})")
        self.names = names


class NameTaken(Conflict):
    def __init__(self, name: str):
        super().__init__(f"name: another saved reply is named {name!r}")
        self.name = name


def clean_name(name) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not 1 <= len(name) <= NAME_MAX:
        raise BadInput("name", f"must be 1 to {NAME_MAX} characters after trimming, got {len(name)}")
    return name


def clean_text(text) -> str:
    text = text.strip() if isinstance(text, str) else ""
    if not 1 <= len(text) <= MESSAGE_MAX or "\x00" in text:
        raise BadInput("text", f"must be 1 to {MESSAGE_MAX} characters after trimming, without NUL characters")
    unknown = sorted({name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        raise UnknownPlaceholders(unknown)
    return text


def view(row: SavedReply) -> contract.SavedReply:
    return contract.SavedReply(id=row.id, name=row.name, text=row.text)


def list_all(session: Session) -> list[contract.SavedReply]:
    return [view(row) for row in session.scalars(select(SavedReply).order_by(SavedReply.name, SavedReply.id))]


def get(session: Session, template_id: int) -> SavedReply:
    row = session.get(SavedReply, template_id)
    if row is None:
        raise NotFound.of("template", template_id)
    return row


def _saved(session: Session, row: SavedReply) -> contract.SavedReply:
    name = row.name  # the row cannot be read once its flush failed
    try:
        session.flush()
    except IntegrityError:
        raise NameTaken(name) from None
    return view(row)


def create(session: Session, name, text) -> contract.SavedReply:
    row = SavedReply(name=clean_name(name), text=clean_text(text))
    session.add(row)
    return _saved(session, row)


def change(session: Session, template_id: int, name=None, text=None) -> contract.SavedReply:
    if name is None and text is None:
        raise BadInput("body", "send name, text or both")
    row = get(session, template_id)
    if name is not None:
        row.name = clean_name(name)
    if text is not None:
        row.text = clean_text(text)
    row.updated_at = utcnow()
    return _saved(session, row)


def remove(session: Session, template_id: int) -> None:
    session.delete(get(session, template_id))


def values_for(buyer_first_name: str | None, product: dict | None) -> dict[str, str]:
    """What the placeholders stand for in a chat (a chat's view: its buyer's first name and card)."""
    nm_id = product.get("nmID") if isinstance(product, dict) else None
    return {"buyer_name": buyer_first_name or "", "nm_id": "" if nm_id is None else str(nm_id)}


def fill_all(session: Session, values: dict[str, str]) -> list[dict]:
    """Every saved reply filled with these values (the chat page's picker); one too long once
    filled has `text` None and says so in `too_long` (its length)."""
    picked = []
    for saved in list_all(session):
        try:
            picked.append({**saved, "text": fill(saved["text"], values), "too_long": None})
        except TooLongFilled as exc:
            picked.append({**saved, "text": None, "too_long": exc.length})
    return picked


def fill(text: str, values: dict[str, str]) -> str:
    """The text with its placeholders replaced; within WB's limit, or TooLongFilled."""
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
    if len(filled) > MESSAGE_MAX:
        raise TooLongFilled(len(filled))
    return filled


def filled_for_chat(session: Session, chat_id: int, template_id: int) -> contract.FilledReply:
    chat = session.get(Chat, chat_id)
    if chat is None:
        raise NotFound.of("chat", chat_id)
    row = get(session, template_id)
    values = values_for(first_name(chat.client_name), chat.good_card)
    return contract.FilledReply(id=row.id, name=row.name, text=fill(row.text, values))
