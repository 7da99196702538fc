"""Storing what WB sends: chats from the chat list, messages from the event feed.

Everything here is idempotent: a page stored twice adds nothing the second time, so a
sync cut off at any point can simply run again.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatcenter.models import Chat, Message, from_ms

CLIENT = "client"


@dataclass
class PageResult:
    chats_added: int = 0
    messages_added: int = 0
    chats_with_new_buyer_messages: set[int] = field(default_factory=set)


def _chats_by_wb_id(session: Session, seller_id: int, wb_ids: set[str]) -> dict[str, Chat]:
    if not wb_ids:
        return {}
    rows = session.scalars(select(Chat).where(Chat.seller_id == seller_id, Chat.wb_chat_id.in_(wb_ids)))
    return {chat.wb_chat_id: chat for chat in rows}


def store_chat_list(session: Session, seller_id: int, wb_chats: list[dict]) -> int:
    """Insert new chats and refresh known ones; return how many were added."""
    known = _chats_by_wb_id(session, seller_id, {c["chatID"] for c in wb_chats})
    added = 0
    for wb_chat in wb_chats:
        chat = known.get(wb_chat["chatID"])
        if chat is None:
            chat = Chat(seller_id=seller_id, wb_chat_id=wb_chat["chatID"], awaiting_reply=False)
            session.add(chat)
            known[chat.wb_chat_id] = chat
            added += 1
        chat.reply_sign = wb_chat.get("replySign") or chat.reply_sign
        chat.client_name = wb_chat.get("clientName") or chat.client_name
        chat.good_card = wb_chat.get("goodCard") or chat.good_card
        last = from_ms((wb_chat.get("lastMessage") or {}).get("addTimestamp"))
        if last and (chat.last_message_at is None or last > chat.last_message_at):
            chat.last_message_at = last
    session.flush()
    return added


def store_events(session: Session, seller_id: int, events: list[dict]) -> PageResult:
    """Store one page of message events; events already stored are skipped."""
    result = PageResult()
    messages = [e for e in events if e.get("eventType", "message") == "message" and e.get("eventID")]
    if not messages:
        return result
    chats = _chats_by_wb_id(session, seller_id, {e["chatID"] for e in messages})
    event_ids = [str(e["eventID"]) for e in messages]
    stored = set(session.scalars(select(Message.wb_event_id).where(Message.wb_event_id.in_(event_ids))))

    for event in messages:
        event_id = str(event["eventID"])
        if event_id in stored:
            continue
        stored.add(event_id)  # the same event twice in one page
        chat = chats.get(event["chatID"])
        if chat is None:  # a chat that started after the chat list was read
            chat = Chat(seller_id=seller_id, wb_chat_id=event["chatID"], awaiting_reply=False)
            session.add(chat)
            chats[chat.wb_chat_id] = chat
            result.chats_added += 1
        if event.get("replySign"):
            chat.reply_sign = event["replySign"]
        if event.get("clientName"):
            chat.client_name = event["clientName"]
        body = event.get("message") or {}
        attachments = body.get("attachments")
        sent_at = from_ms(event["addTimestamp"])
        session.add(Message(chat=chat, wb_event_id=event_id, sender=event.get("sender", "wb"),
                            text=body.get("text") or "", attachments=attachments or None, sent_at=sent_at))
        result.messages_added += 1
        if chat.last_message_at is None or sent_at >= chat.last_message_at:
            chat.last_message_at = sent_at
            # The buyer waits for an answer while the newest message is theirs.
            chat.awaiting_reply = event.get("sender") == CLIENT
        if event.get("sender") == CLIENT:
            session.flush()  # chat.id for a chat created above
            result.chats_with_new_buyer_messages.add(chat.id)
    session.flush()
    return result
