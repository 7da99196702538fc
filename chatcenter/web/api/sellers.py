"""GET /api/sellers and POST /api/sellers/<id>/sync."""
from __future__ import annotations

from flask import Blueprint

from chatcenter import actions, runtime
from chatcenter.contract import JobAccepted, SellerList
from chatcenter.queries import list_sellers
from chatcenter.web.api.enqueued import enqueued
from chatcenter.web.api.inputs import NoBody, NoQuery
from chatcenter.web.api.openapi import READS, WRITES, answers, spec
from chatcenter.web.reads import request_reader
from chatcenter.web.scope import current_scope

bp = Blueprint("sellers", __name__, url_prefix="/sellers")


@bp.get("")
@spec.validate(query=NoQuery, resp=answers((200, SellerList, "The sellers this key sees, by id"), *READS),
               tags=["sellers"])
def sellers():
    """Sellers with their sync state (never their WB token)"""
    with request_reader() as session:
        return {"sellers": list_sellers(session, scope=current_scope())}


@bp.post("/<int:seller_id>/sync")
@spec.validate(query=NoQuery, json=NoBody, tags=["sellers"], resp=answers(
    (202, JobAccepted, "A sync enqueued"), *WRITES, 409,
    s409="A sync of this seller is already queued or running (job_id names it)"))
def sync(seller_id: int):
    """Sync a seller's chats from WB now"""
    return enqueued(actions.request_sync(runtime.get(), seller_id), f"a sync of seller {seller_id}")
