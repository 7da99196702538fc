"""The operators' JSON API under /api: sellers, chats, jobs and this API's OpenAPI document.

One parent blueprint holds what every route shares: the API key check, the body size cap,
the checks of what spectree cannot see (a parameter given twice, a body that is not a JSON
object, an id larger than the database can hold), and the error answers (JSON,
chatcenter/web/errors.py). The routes live in small blueprints by
concern, thin over chatcenter.queries (reads) and chatcenter.actions (what operators ask
for), each declaring its inputs and answers for spectree (openapi.py). The health routes
are not part of it and stay open.
"""
from __future__ import annotations

from flask import Blueprint, request

from chatcenter.contract import ID_MAX
from chatcenter.errors import NotFound
from chatcenter.web.api import auth, chats, inputs, jobs, openapi, reports, sellers
from chatcenter.web.errors import answer_in_json
from chatcenter.web.scope import check_url_ids

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.before_request
def _guard():
    refused = auth.require_api_key()
    if refused is not None:
        return refused
    inputs.limit_body()
    _ids_in_range()
    check_url_ids()  # a seller, chat or job outside the key's sellers: 404, as if it did not exist
    inputs.refuse_repeats()
    if request.method in ("POST", "PATCH"):
        inputs.require_json_object_body()
    return None


def _ids_in_range() -> None:
    # Flask's int converter takes any size; a larger id than the database holds cannot
    # exist (and PostgreSQL would refuse to compare it). The document says so (openapi.py).
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 1 <= value <= ID_MAX:
            raise NotFound.of(name.removesuffix("_id"), value)


answer_in_json(bp)
for child in (sellers.bp, chats.bp, jobs.bp, reports.bp, openapi.bp):
    bp.register_blueprint(child)
