"""Storing what happens in a chat: WB's chats and events, our sent replies, the analyses.

Everything here is idempotent: a page stored twice adds nothing the second time, so a
sync cut off at any point can simply run again. The chat's copied columns (newest
message, waiting time, due analysis, latest analysis) change only here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatcenter.models import DEFAULT_PRIORITY, PRIORITIES, Analysis, Chat, Message, from_ms, utcnow

CLIENT, SELLER = "client", "seller"
REPLY_EVENT_PREFIX = "reply:"  # wb_event_id of a sent reply until WB's feed reports it


@dataclass
class PageResult:
    chats_added: int = 0
    messages_added: int = 0
    buyer_messages_added: int = 0


def _chats_by_wb_id(session: Session, seller_id: int, wb_ids: set[str]) -> dict[str, Chat]:
    if not wb_ids:
        return {}
    rows = session.scalars(select(Chat).where(Chat.seller_id == seller_id, Chat.wb_chat_id.in_(wb_ids)))
    return {chat.wb_chat_id: chat for chat in rows}


def _new_chat(session: Session, seller_id: int, wb_chat_id: str, seen_at: datetime | None = None) -> Chat:
    chat = Chat(seller_id=seller_id, wb_chat_id=wb_chat_id, awaiting_reply=False, analysis_due=False,
                priority=DEFAULT_PRIORITY, last_message_at=seen_at or utcnow())
    session.add(chat)
    return chat


def store_chat_list(session: Session, seller_id: int, wb_chats: list[dict]) -> int:
    """Insert new chats and refresh known ones; return how many were added."""
    known = _chats_by_wb_id(session, seller_id, {c["chatID"] for c in wb_chats})
    added = 0
    for wb_chat in wb_chats:
        last = from_ms((wb_chat.get("lastMessage") or {}).get("addTimestamp"))
        chat = known.get(wb_chat["chatID"])
        if chat is None:
            chat = known[wb_chat["chatID"]] = _new_chat(session, seller_id, wb_chat["chatID"], last)
            added += 1
        elif last and last > chat.last_message_at:
            chat.last_message_at = last
        chat.reply_sign = wb_chat.get("replySign") or chat.reply_sign
        chat.client_name = wb_chat.get("clientName") or chat.client_name
        chat.good_card = wb_chat.get("goodCard") or chat.good_card
    session.flush()
    return added


def record_message(chat: Chat, message: Message) -> None:
    """Update the chat's copied columns for a message just added (flushed: it has an id)."""
    if chat.last_message_id is not None and message.sent_at < chat.last_message_at:
        if message.sender == CLIENT:  # an older buyer message arriving late still needs reading
            chat.analysis_due = True
        return
    chat.last_message_at = message.sent_at
    chat.last_message_id = message.id
    if message.sender == CLIENT:
        chat.analysis_due = True
        if not chat.awaiting_reply:
            chat.awaiting_reply = True
            chat.waiting_since = message.sent_at
    elif message.sender == SELLER:
        chat.awaiting_reply = False
        chat.waiting_since = None


def store_events(session: Session, seller_id: int, events: list[dict]) -> PageResult:
    """Store one page of message events; events already stored are skipped."""
    result = PageResult()
    messages = [e for e in events if e.get("eventType", "message") == "message" and e.get("eventID")]
    if not messages:
        return result
    chats = _chats_by_wb_id(session, seller_id, {e["chatID"] for e in messages})
    stored = {(chat_id, event_id) for chat_id, event_id in session.execute(
        select(Message.chat_id, Message.wb_event_id).where(
            Message.chat_id.in_([c.id for c in chats.values()]),
            Message.wb_event_id.in_([str(e["eventID"]) for e in messages])))}

    for event in sorted(messages, key=lambda e: e["addTimestamp"]):
        chat = chats.get(event["chatID"])
        if chat is None:  # a chat that started after the chat list was read
            chat = chats[event["chatID"]] = _new_chat(session, seller_id, event["chatID"],
                                                      from_ms(event["addTimestamp"]))
            session.flush()
            result.chats_added += 1
        event_id = str(event["eventID"])
        if (chat.id, event_id) in stored:
            continue
        stored.add((chat.id, event_id))  # the same event twice in one page
        if event.get("replySign"):
            chat.reply_sign = event["replySign"]
        if event.get("clientName"):
            chat.client_name = event["clientName"]
        body = event.get("message") or {}
        sender = event.get("sender", "wb")
        if sender == SELLER and _adopt_sent_reply(session, chat, event_id, body.get("text") or ""):
            continue
        message = Message(chat_id=chat.id, wb_event_id=event_id, sender=sender, text=body.get("text") or "",
                          attachments=body.get("attachments") or None, sent_at=from_ms(event["addTimestamp"]))
        session.add(message)
        session.flush()
        record_message(chat, message)
        result.messages_added += 1
        result.buyer_messages_added += sender == CLIENT
    session.flush()
    return result


def _adopt_sent_reply(session: Session, chat: Chat, event_id: str, text: str) -> bool:
    """WB's feed reporting a reply we stored when sending it: give it WB's id, add nothing."""
    sent = session.scalars(
        select(Message).where(Message.chat_id == chat.id, Message.sender == SELLER, Message.text == text,
                              Message.wb_event_id.startswith(REPLY_EVENT_PREFIX))
        .order_by(Message.id).limit(1)
    ).first()
    if sent is None:
        return False
    sent.wb_event_id = event_id
    return True


def store_sent_reply(session: Session, chat: Chat, reply_id: int, text: str, sent_at: datetime) -> Message:
    """The seller message for a reply WB accepted; the chat stops awaiting an answer."""
    message = Message(chat_id=chat.id, wb_event_id=f"{REPLY_EVENT_PREFIX}{reply_id}", sender=SELLER,
                      text=text, sent_at=sent_at)
    session.add(message)
    session.flush()
    record_message(chat, message)
    return message


def store_analysis(session: Session, chat: Chat, analysis: Analysis) -> None:
    """Add an analysis and make it the chat's latest; the chat is due again only if a
    buyer message newer than the one it covers arrived meanwhile."""
    session.add(analysis)
    session.flush()
    chat.latest_analysis_id = analysis.id
    chat.sentiment, chat.category, chat.urgency = analysis.sentiment, analysis.category, analysis.urgency
    chat.priority = PRIORITIES.get(analysis.urgency, DEFAULT_PRIORITY)
    newer = session.scalar(select(Message.id).where(
        Message.chat_id == chat.id, Message.sender == CLIENT, Message.id > analysis.last_message_id).limit(1))
    chat.analysis_due = newer is not None
