"""Saved replies (templates): the team's list, create, change, delete; and one filled for a chat."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from chatcenter import runtime, saved_replies
from chatcenter.contract import OneFilledReply, OneSavedReply, SavedReplyList
from chatcenter.web.api.inputs import NoQuery, TemplateBody, TemplateChange
from chatcenter.web.api.openapi import READS, WRITES, answers, spec
from chatcenter.web.reads import request_reader

bp = Blueprint("templates", __name__)
S400 = ("Bad input; or the text has a placeholder other than {buyer_name} and {nm_id} (named in `detail`)")
S409 = "Another saved reply has this name"


@bp.get("/templates")
@spec.validate(query=NoQuery, resp=answers((200, SavedReplyList, "Every saved reply, by name"), *READS),
               tags=["templates"])
def templates():
    """The team's saved replies"""
    with request_reader() as session:
        return {"templates": saved_replies.list_all(session)}


@bp.post("/templates")
@spec.validate(resp=answers((201, OneSavedReply, "The saved reply"), *WRITES, 409, s400=S400, s409=S409),
               tags=["templates"])
def create(query: NoQuery, json: TemplateBody):
    """Save a reply for the team: a name and a text with placeholders {buyer_name} and {nm_id}"""
    with runtime.get().db.session() as session:
        saved = saved_replies.create(session, json.name, json.text)
    response = jsonify(saved)
    response.status_code = 201
    response.headers["Location"] = f"/api/templates/{saved['id']}"
    return response


@bp.patch("/templates/<int:template_id>")
@spec.validate(resp=answers((200, OneSavedReply, "The saved reply as changed"), *WRITES, 409, s400=S400,
                            s409=S409), tags=["templates"])
def change(template_id: int, query: NoQuery, json: TemplateChange):
    """Change a saved reply's name, text or both"""
    with runtime.get().db.session() as session:
        return saved_replies.change(session, template_id, name=json.name, text=json.text)


@bp.delete("/templates/<int:template_id>")
@spec.validate(query=NoQuery, resp=answers((204, None, "The saved reply is deleted"), *READS, 404),
               tags=["templates"])
def delete(template_id: int):
    """Delete a saved reply"""
    with runtime.get().db.session() as session:
        saved_replies.remove(session, template_id)
    return Response(status=204)


@bp.get("/chats/<int:chat_id>/templates/<int:template_id>")
@spec.validate(query=NoQuery, resp=answers((200, OneFilledReply, "The text to put in the reply box"), *READS, 404,
                                           422, s422="Filled for this chat the text is over WB's 1000 characters"),
               tags=["templates"])
def filled(chat_id: int, template_id: int):
    """A saved reply filled for a chat: {buyer_name} is the buyer's first name, {nm_id} the product's article"""
    with request_reader() as session:
        return saved_replies.filled_for_chat(session, chat_id, template_id)
