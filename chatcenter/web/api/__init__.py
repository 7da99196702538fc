"""The operators' JSON API under /api: sellers, chats, jobs and this API's OpenAPI document.

One parent blueprint holds what every route shares: the API key check, the body size
cap, ids bounded to what the database can hold, and the error answers. The routes live
in small blueprints by concern, thin over chatcenter.queries (reads) and
chatcenter.actions (what operators ask for). The health routes are not part of it and
stay open.
"""
from __future__ import annotations

from flask import Blueprint, request

from chatcenter import actions
from chatcenter.web.api import answers, auth, chats, inputs, jobs, openapi, sellers

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
def _guard():
    refused = auth.require_api_key()
    if refused is not None:
        return refused
    inputs.limit_body()
    _ids_in_range()
    return None


def _ids_in_range() -> None:
    # Flask's int converter takes any size; a larger id than the database holds cannot
    # exist (and PostgreSQL would refuse to compare it).
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 1 <= value <= inputs.ID_MAX:
            raise actions.NotFound(f"{name.removesuffix('_id')} {value} does not exist")


answers.register_error_handlers(bp)
for child in (sellers.bp, chats.bp, jobs.bp, openapi.bp):
    bp.register_blueprint(child)
