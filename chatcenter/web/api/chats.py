"""Chats: the list (filters, keyset pages), one chat, its status and assignee, asking for an
analysis, replying, internal notes."""
from __future__ import annotations

from flask import Blueprint, g

from chatcenter import actions, runtime
from chatcenter.chat_status import UNSET, change_chat
from chatcenter.contract import ChatPage, JobAccepted, OneChat, OneNote, ReplyAccepted
from chatcenter.errors import NotFound
from chatcenter.notes import add_note
from chatcenter.queries import ChatFilter, chat_detail, list_chats, note_view
from chatcenter.web.api.enqueued import accepted, enqueued
from chatcenter.web.api.inputs import (
    ChatChangeBody, ChatListQuery, ChatQuery, NoBody, NoQuery, NoteBody, ReplyBody, ReplyHeaders,
)
from chatcenter.web.api.openapi import READS, WRITES, answers, spec
from chatcenter.web.reads import request_reader
from chatcenter.web.scope import current_scope

bp = Blueprint("chats", __name__, url_prefix="/chats")

FILTERS = ("seller_id", "awaiting_reply", "sentiment", "urgency", "category", "assignee_id")
ENQUEUED = (202, JobAccepted, "An analysis enqueued")


@bp.get("")
@spec.validate(resp=answers((200, ChatPage, "One page of chats"), *READS), tags=["chats"])
def chats(query: ChatListQuery):
    """Chats, newest activity first (or the inbox order), in pages

    Keyset pagination: pass `next_cursor` as `cursor` with the same filters and order; chats arriving
    meanwhile never make a page skip or repeat one. Each chat comes with a preview of its last message
    and its latest analysis (or null).
    """
    filters = ChatFilter(**{name: getattr(query, name) for name in FILTERS},
                         statuses=tuple(query.status) if query.status else None)
    with request_reader() as session:
        page = list_chats(session, filters, scope=current_scope(), order=query.order, limit=query.limit,
                          cursor=query.cursor)
    return {"chats": page.chats, "next_cursor": page.next_cursor}


@bp.get("/<int:chat_id>")
@spec.validate(resp=answers((200, OneChat, "The chat"), *READS, 404), tags=["chats"])
def chat(chat_id: int, query: ChatQuery):
    """A chat: its product card, a page of its messages (oldest first), its latest analysis"""
    with request_reader() as session:
        found = chat_detail(session, chat_id, scope=current_scope(), limit=query.limit, before=query.before)
    if found is None:
        raise NotFound.of("chat", chat_id)
    return found


@bp.patch("/<int:chat_id>")
@spec.validate(resp=answers((200, OneChat, "The chat as changed"), *WRITES), tags=["chats"])
def change(chat_id: int, query: NoQuery, json: ChatChangeBody):
    """Resolve, reopen or snooze the chat, or (un)assign it

    Any of status (`open`, `resolved`, `snoozed` with `snoozed_until`) and `assignee_id` (an active operator,
    or null). Each real change is recorded with who made it (this API key) and shows in `changes`; setting
    what is already so changes nothing. A new buyer message reopens a resolved or snoozed chat; a snooze
    ends by itself at its time.
    """
    given = {name: getattr(json, name) for name in json.model_fields_set}
    with runtime.get().db.session(write_lock=True) as session:
        change_chat(session, chat_id, g.requester, status=given.get("status", UNSET),
                    snoozed_until=given.get("snoozed_until", UNSET), assignee_id=given.get("assignee_id", UNSET))
    with request_reader() as session:
        return chat_detail(session, chat_id, scope=current_scope())


@bp.post("/<int:chat_id>/notes")
@spec.validate(resp=answers((201, OneNote, "The note, stored"), *WRITES), tags=["chats"])
def note(chat_id: int, query: NoQuery, json: NoteBody):
    """Leave an internal note in the chat

    For operators only: notes show in the chat's thread (`notes` of the chat) and are never sent to WB
    nor given to the AI.
    """
    with runtime.get().db.session() as session:
        stored = note_view(session, add_note(session, chat_id, json.text, g.requester))
    return stored, 201


@bp.post("/<int:chat_id>/analysis")
@spec.validate(resp=answers(ENQUEUED, *WRITES, 409, s409="An analysis of this chat is already queued or running "
                            "(job_id names it); or analysis is off (DEEPSEEK_API_KEY is empty)"), tags=["chats"])
def analysis(chat_id: int, query: NoQuery, json: NoBody):
    """Have DeepSeek analyse the chat again"""
    return enqueued(actions.request_analysis(runtime.get(), chat_id), f"an analysis of chat {chat_id}")


@bp.post("/<int:chat_id>/reply")
@spec.validate(resp=answers((202, ReplyAccepted, "The reply is recorded and its sending enqueued"), *WRITES, 422,
                            s400="Bad input; or the text holds what WB's moderation refuses (a link, an e-mail "
                                 "address, a phone number, a social network's name), named in `detail`"),
               tags=["chats"])
def reply(chat_id: int, query: NoQuery, json: ReplyBody, headers: ReplyHeaders):
    """Answer the buyer: the text is sent to WB by a job, once

    The job sends the text with the chat's reply sign and stores it as a seller message once WB accepts
    it. With an Idempotency-Key, the same key (from the same API key) within 24 h names the same reply:
    the answer is the first request's, nothing is sent twice, and `Idempotent-Replayed: true` says so.
    """
    result = actions.request_reply(runtime.get(), chat_id, json.text, requested_by=g.requester,
                                   idempotency_key=headers.idempotency_key)
    response = accepted({"job_id": result.job_id, "reply_id": result.reply_id, "state": result.state})
    if not result.created:
        response.headers["Idempotent-Replayed"] = "true"  # the first request's reply, nothing new
    return response
