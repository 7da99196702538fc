"""Chats: the list (filters, keyset pages), one chat, asking for an analysis, replying."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from chatcenter import actions, runtime
from chatcenter.prompt import CATEGORIES, SENTIMENTS, URGENCIES
from chatcenter.queries import MAX_LIMIT, ORDERS, ChatFilter, chat_detail, list_chats
from chatcenter.web.api.answers import accepted, enqueued
from chatcenter.web.api.inputs import boolean, identifier, json_object, one_of, query, token, whole_number
from chatcenter.web.reads import request_reader

bp = Blueprint("chats", __name__, url_prefix="/chats")

DEFAULT_LIMIT = 50
CURSOR_MAX = 500
FILTERS = {"seller_id": identifier, "awaiting_reply": boolean, "sentiment": one_of(SENTIMENTS),
           "urgency": one_of(URGENCIES), "category": one_of(CATEGORIES)}
PAGING = {"order": one_of(ORDERS), "limit": whole_number(1, MAX_LIMIT), "cursor": token(CURSOR_MAX)}


@bp.get("")
def chats():
    args = query(**FILTERS, **PAGING)
    filters = ChatFilter(**{name: args[name] for name in FILTERS if name in args})
    with request_reader() as session:
        page = list_chats(session, filters, order=args.get("order", "activity"),
                          limit=args.get("limit", DEFAULT_LIMIT), cursor=args.get("cursor"))
    return jsonify(chats=page.chats, next_cursor=page.next_cursor)


@bp.get("/<int:chat_id>")
def chat(chat_id: int):
    args = query(limit=whole_number(1, MAX_LIMIT), before=identifier)
    with request_reader() as session:
        found = chat_detail(session, chat_id, limit=args.get("limit", DEFAULT_LIMIT), before=args.get("before"))
    if found is None:
        raise actions.NotFound(f"chat {chat_id} does not exist")
    return jsonify(found)


@bp.post("/<int:chat_id>/analysis")
def analysis(chat_id: int):
    query()
    json_object(allowed=())
    return enqueued(actions.request_analysis(runtime.get(), chat_id), f"an analysis of chat {chat_id}")


@bp.post("/<int:chat_id>/reply")
def reply(chat_id: int):
    query()
    body = json_object(allowed=("text",), required=("text",))
    result = actions.request_reply(runtime.get(), chat_id, body["text"], requested_by=g.requester,
                                   idempotency_key=request.headers.get("Idempotency-Key"))
    response = accepted({"job_id": result.job_id, "reply_id": result.reply_id, "state": result.state})
    if not result.created:
        response.headers["Idempotent-Replayed"] = "true"  # the first request's reply, nothing new
    return response
