"""GET /api/sellers and POST /api/sellers/<id>/sync."""
from __future__ import annotations

from flask import Blueprint, jsonify

from chatcenter import actions, runtime
from chatcenter.queries import list_sellers
from chatcenter.web.api.answers import enqueued
from chatcenter.web.api.inputs import json_object, query

bp = Blueprint("sellers", __name__, url_prefix="/sellers")


@bp.get("")
def sellers():
    query()
    with runtime.get().db.session() as session:
        return jsonify(sellers=list_sellers(session))


@bp.post("/<int:seller_id>/sync")
def sync(seller_id: int):
    query()
    json_object(allowed=())
    return enqueued(actions.request_sync(runtime.get(), seller_id), f"a sync of seller {seller_id}")
