"""Chats: the list (filters, keyset pages), one chat, its status and assignee, asking for an
analysis, replying, internal notes."""
from __future__ import annotations

from flask import Blueprint, g, url_for

from chatcenter import actions, runtime
from chatcenter.attachments import FILE_MAX, FILES_TOTAL_MAX, MB, check_uploads
from chatcenter.chat_status import UNSET, change_chat
from chatcenter.contract import ChatPage, JobAccepted, OneChat, OneNote, ReplyAccepted
from chatcenter.errors import BadInput, NotFound
from chatcenter.notes import add_note
from chatcenter.queries import ChatFilter, chat_detail, list_chats, note_view
from chatcenter.web.api.enqueued import accepted, enqueued
from chatcenter.web.api.inputs import (
    ChatChangeBody, ChatListQuery, ChatQuery, FilePart, NoBody, NoQuery, NoteBody, ReplyBody, ReplyForm,
    ReplyHeaders,
)
from chatcenter.web.files import file_answer
from chatcenter.web.api.openapi import READS, WRITES, answers, spec
from chatcenter.web.reads import request_reader
from chatcenter.web.scope import current_scope

bp = Blueprint("chats", __name__, url_prefix="/chats")

FILTERS = ("seller_id", "awaiting_reply", "sentiment", "urgency", "category", "q", "assignee_id")
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


@bp.get("/<int:chat_id>/attachments/<download_id>")
@spec.validate(resp=answers((200, None, "The file: image/jpeg, image/png or application/pdf"), *READS, 404, 409,
                            s404="No such chat, or no such file in it",
                            s409="The file is not stored: still to fetch from WB (`state`: pending), in WB's "
                                 "moderation (moderation) or refused (refused)"), tags=["chats"])
def attachment(chat_id: int, download_id: str, query: NoQuery):
    """A photo or file of a message, from this service's own storage

    The URL is a message's `attachments[].url`. The file is served with its checked content type,
    inline for images and as a download for the rest, and may be cached privately for good.
    """
    return file_answer(chat_id, download_id)


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
    nor given to the AI. `Location` is the chat, whose `notes` list it.
    """
    with runtime.get().db.session() as session:
        stored = note_view(session, add_note(session, chat_id, json.text, g.requester))
    return stored, 201, {"Location": url_for("api.chats.chat", chat_id=chat_id)}


@bp.post("/<int:chat_id>/analysis")
@spec.validate(resp=answers(ENQUEUED, *WRITES, 409, s409="An analysis of this chat is already queued or running "
                            "(job_id names it); or analysis is off (DEEPSEEK_API_KEY is empty)"), tags=["chats"])
def analysis(chat_id: int, query: NoQuery, json: NoBody):
    """Have DeepSeek analyse the chat again"""
    return enqueued(actions.request_analysis(runtime.get(), chat_id), f"an analysis of chat {chat_id}")


@bp.post("/<int:chat_id>/reply")
@spec.validate(resp=answers((202, ReplyAccepted, "The reply is recorded and its sending enqueued"), *WRITES, 422,
                            s400="Bad input; or the text holds what WB's moderation refuses (a link, an e-mail "
                                 "address, a phone number, a social network's name), named in `detail`; or a "
                                 "file is not JPEG, PNG or PDF, or there are more than 5 (the file is named)",
                            s413=f"A file is over {FILE_MAX // MB} MB, the files over {FILES_TOTAL_MAX // MB} MB "
                                 "in all (the file is named), or the body is over its limit"),
               tags=["chats"])
def reply(chat_id: int, query: NoQuery, json: ReplyBody, form: ReplyForm, headers: ReplyHeaders):
    """Answer the buyer: the text (and files) are sent to WB by a job, once

    JSON for a text alone; multipart/form-data with `text` and up to 5 `file` parts (JPEG, PNG or PDF by
    their content, at most 5 MB each, 30 MB in all) for a reply with files, checked before anything is
    queued. The job sends them with the chat's reply sign and stores the reply as a seller message once
    WB accepts it. With an Idempotency-Key, the same key (from the same API key) within 24 h names the
    same reply (the same chat, text and files): the answer is the first request's, nothing is sent twice,
    and `Idempotent-Replayed: true` says so.
    """
    files = []
    if form is not None:
        if not all(isinstance(part, FilePart) for part in form.file):
            raise BadInput("file", "must be a file part (with a file name), not a text field")
        files = check_uploads([(part.storage.filename or "", part.storage.read()) for part in form.file])
    result = actions.request_reply(runtime.get(), chat_id, (form or json).text, requested_by=g.requester,
                                   idempotency_key=headers.idempotency_key, files=files)
    response = accepted({"job_id": result.job_id, "reply_id": result.reply_id, "state": result.state})
    if not result.created:
        response.headers["Idempotent-Replayed"] = "true"  # the first request's reply, nothing new
    return response
