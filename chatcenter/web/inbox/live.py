"""The parts of the pages that refresh themselves: small HTML fragments the page's script
fetches every few seconds (inbox.js). Each answer carries an ETag; when nothing changed
the answer is an empty 304, so an inbox left open all day costs almost nothing.

The fragments are rendered by the same templates and *_part functions as the pages, so a
refreshed part looks exactly like a freshly loaded one and the operator keeps their place
(filters, page, scroll and focus stay as they were).
"""
from __future__ import annotations

from flask import make_response, render_template, request

from chatcenter.web.inbox.blueprint import bp
from chatcenter.web.inbox.pages import (
    _int_param, _load_chat, analysis_part, inbox_part, note_seen, sellers_part, thread_part,
)


def fragment(template: str, **context):
    response = make_response(render_template(template, **context))
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/live/inbox")
def live_inbox():
    return fragment("inbox/_chat_list.html", part=inbox_part(request.args))


@bp.get("/live/chats/<int:chat_id>/thread")
def live_thread(chat_id: int):
    before = _int_param("before")
    chat = _load_chat(chat_id, before)
    note_seen(chat, before)  # a message that arrives while the chat is open is read there
    return fragment("inbox/_thread.html", thread=thread_part(chat_id, before, _int_param("reply"), chat))


@bp.get("/live/chats/<int:chat_id>/analysis")
def live_analysis(chat_id: int):
    return fragment("inbox/_analysis.html", box=analysis_part(chat_id))


@bp.get("/live/sellers")
def live_sellers():
    return fragment("inbox/_sellers.html", part=sellers_part())
