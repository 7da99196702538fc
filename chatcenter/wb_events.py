"""Cleaning WB's events before they are stored.

One event that a database refuses (a NUL byte, a lone surrogate, a value longer than its
column, a timestamp past year 9999) would fail its whole page on every run and stall the
seller for good. So each event is normalised here first; one that still cannot be stored
is set aside with a reason (a short kind, never its text) and the feed moves past it.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

# Column sizes (chatcenter.models): an id longer than its column cannot be cut (it would
# name another chat or event), a display value can.
CHAT_ID_MAX = EVENT_ID_MAX = 100
CLIENT_NAME_MAX = 200
REPLY_SIGN_MAX = 255
MESSAGE_MAX = 1000  # WB's limit for one seller message (a reply)
SENDER_MAX = 20
# Buyer texts are capped by WB at a few thousand characters; far more is garbage, not a message.
TEXT_MAX = 100_000

# Timestamps WB can mean: from 2000-01-01 to a day ahead of now (clock skew).
TIMESTAMP_MIN_MS = 946_684_800_000
_AHEAD_MS = 24 * 3600 * 1000

# NUL is refused by PostgreSQL text columns; a lone surrogate cannot be encoded as UTF-8 by
# any driver. (json.loads joins valid pairs, so any surrogate left in a str is a lone one.)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class SetAside(Exception):
    """The event cannot be stored; `kind` says why in a word, without its content."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class WBEvent:
    chat_id: str
    event_id: str
    event_type: str
    timestamp_ms: int
    sender: str
    text: str
    attachments: dict | list | None
    client_name: str | None
    reply_sign: str | None
    is_new_chat: bool

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=timezone.utc)


def clean_text(value: str) -> str:
    return _UNSTORABLE.sub("", value)


def clean_json(value):
    """Strings anywhere inside a JSON value, cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    return value


def now_ms() -> int:
    return int(datetime.now(timezone.utc).timestamp() * 1000)


def _identifier(event: dict, key: str, limit: int) -> str:
    value = event.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise SetAside(f"{key} missing")
    value = clean_text(value).strip()
    if not value:
        raise SetAside(f"{key} missing")
    if len(value) > limit:
        raise SetAside(f"{key} too long")
    return value


def _timestamp(event: dict, now: int) -> int:
    value = event.get("addTimestamp")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SetAside("addTimestamp not an integer")
    if not TIMESTAMP_MIN_MS <= value <= now + _AHEAD_MS:
        raise SetAside("addTimestamp out of range")
    return value


def _optional(value, limit: int) -> str | None:
    """A display value: cleaned and cut to its column, or None when unusable."""
    if not isinstance(value, str):
        return None
    return clean_text(value)[:limit] or None


def _body(event: dict) -> tuple[str, dict | list | None]:
    body = event.get("message")
    if body is None:
        return "", None
    if isinstance(body, str):  # seen from hostile feeds: the text without its object
        return clean_text(body)[:TEXT_MAX], None
    if not isinstance(body, dict):
        raise SetAside("message not an object")
    text = body.get("text")
    if text is None:
        text = ""
    elif not isinstance(text, str):
        raise SetAside("message text not a string")
    attachments = body.get("attachments")
    if not isinstance(attachments, (dict, list)) or not attachments:
        attachments = None
    return clean_text(text)[:TEXT_MAX], clean_json(attachments)


def clean_event(event, now: int | None = None) -> WBEvent:
    """The event as it can be stored, or SetAside saying why it cannot."""
    if not isinstance(event, dict):
        raise SetAside("event not an object")
    event_type = event.get("eventType", "message")
    if not isinstance(event_type, str):
        raise SetAside("eventType not a string")
    sender = event.get("sender", "wb")
    if not isinstance(sender, str) or not (clean_sender := clean_text(sender)):
        raise SetAside("sender not a string")
    if len(sender) > SENDER_MAX:
        raise SetAside("sender too long")
    text, attachments = _body(event) if event_type == "message" else ("", None)
    return WBEvent(
        chat_id=_identifier(event, "chatID", CHAT_ID_MAX),
        event_id=_identifier(event, "eventID", EVENT_ID_MAX),
        # The usual "message" needs no cleaning (ingest cleans every event).
        event_type=event_type if event_type == "message" else clean_text(event_type)[:SENDER_MAX],
        timestamp_ms=_timestamp(event, now_ms() if now is None else now),
        sender=clean_sender,
        text=text,
        attachments=attachments,
        client_name=_optional(event.get("clientName"), CLIENT_NAME_MAX),
        # A cut reply sign would be refused by WB: better none than a wrong one.
        reply_sign=event["replySign"] if _short_clean(event.get("replySign"), REPLY_SIGN_MAX) else None,
        is_new_chat=event.get("isNewChat") is True,
    )


def _short_clean(value, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit and not _UNSTORABLE.search(value)


def safe_id(event) -> str:
    """An event's id fit for a log line: only when it is a short plain id."""
    value = event.get("eventID") if isinstance(event, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= EVENT_ID_MAX and re.fullmatch(r"[A-Za-z0-9_:.\-]+", value):
        return value
    return "(no usable id)"


def digest(raw) -> str:
    """The same event as WB sent it, twice, has the same digest (it says nothing of its text)."""
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=True, default=repr)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class SetAsideEvent:
    event_id: str  # safe_id(): fit for logs
    kind: str
    digest: str


@dataclass
class CleanPage:
    events: list[WBEvent]
    set_aside: list[SetAsideEvent]


def clean_page(raw_events: list, now: int | None = None) -> CleanPage:
    now = now_ms() if now is None else now
    page = CleanPage([], [])
    for raw in raw_events:
        try:
            page.events.append(clean_event(raw, now))
        except SetAside as reason:
            page.set_aside.append(SetAsideEvent(safe_id(raw), reason.kind, digest(raw)))
    return page


@dataclass(frozen=True)
class WBChat:
    chat_id: str
    reply_sign: str | None
    client_name: str | None
    good_card: dict | None
    last_message_ms: int | None


def clean_chats(raw_chats: list, now: int | None = None) -> tuple[list[WBChat], int]:
    """The chat list's usable entries, and how many were set aside."""
    now = now_ms() if now is None else now
    chats, set_aside = [], 0
    for raw in raw_chats:
        try:
            chat_id = _identifier(raw if isinstance(raw, dict) else {}, "chatID", CHAT_ID_MAX)
        except SetAside:
            set_aside += 1
            continue
        last = raw.get("lastMessage")
        try:
            last_ms = _timestamp(last, now) if isinstance(last, dict) else None
        except SetAside:
            last_ms = None
        card = raw.get("goodCard")
        chats.append(WBChat(
            chat_id=chat_id,
            reply_sign=raw["replySign"] if _short_clean(raw.get("replySign"), REPLY_SIGN_MAX) else None,
            client_name=_optional(raw.get("clientName"), CLIENT_NAME_MAX),
            good_card=clean_json(card) if isinstance(card, dict) else None,
            last_message_ms=last_ms,
        ))
    return chats, set_aside
