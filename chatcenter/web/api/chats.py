"""Chats: the list (filters, keyset pages), one chat, asking for an analysis, replying."""
from __future__ import annotations

from flask import Blueprint, g

from chatcenter import actions, runtime
from chatcenter.contract import ChatPage, JobAccepted, OneChat, ReplyAccepted
from chatcenter.errors import NotFound
from chatcenter.queries import ChatFilter, chat_detail, list_chats
from chatcenter.web.api.enqueued import accepted, enqueued
from chatcenter.web.api.inputs import ChatListQuery, ChatQuery, NoBody, NoQuery, ReplyBody, ReplyHeaders
from chatcenter.web.api.openapi import READS, WRITES, answers, spec
from chatcenter.web.reads import request_reader
from chatcenter.web.scope import current_scope

bp = Blueprint("chats", __name__, url_prefix="/chats")

FILTERS = ("seller_id", "awaiting_reply", "sentiment", "urgency", "category", "q")
ENQUEUED = (202, JobAccepted, "An analysis enqueued")


@bp.get("")
@spec.validate(resp=answers((200, ChatPage, "One page of chats"), *READS), tags=["chats"])
def chats(query: ChatListQuery):
    """Chats, newest activity first (or the inbox order), in pages

    Keyset pagination: pass `next_cursor` as `cursor` with the same filters and order; chats arriving
    meanwhile never make a page skip or repeat one. Each chat comes with a preview of its last message
    and its latest analysis (or null).

    With `q`, a search: chats whose buyer's name holds every word come first, then chats with a message
    that holds every word, each newest activity first (Russian word forms on PostgreSQL); the cursor pages
    through both in that order.
    """
    filters = ChatFilter(**{name: getattr(query, name) for name in FILTERS})
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
