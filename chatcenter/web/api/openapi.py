"""The API contract, generated: spectree validates each route's query, body and headers
against the models it is decorated with (chatcenter/web/api/inputs.py) and builds
/api/openapi.json from them and from the answers' models (chatcenter/contract.py).

Written here once: which errors each route may answer (the table below, by status), the
headers those answers carry, and the security scheme. tests/test_api_openapi.py keeps it
true: the document's paths are the app's routes, and every answer the API tests get must
match it.
"""
from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Flask, current_app
from pydantic import BaseModel, ValidationError
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree

from chatcenter.contract import ID_MAX, Document, Error
from chatcenter.observability.release import __version__
from chatcenter.web.api import inputs
from chatcenter.web.api.inputs import BODY_MAX, NoBody, NoQuery, refusal

bp = Blueprint("openapi", __name__)

DESCRIPTION = (
    "Read buyers' chats and their AI analyses, trigger syncs and analyses, answer buyers, and follow "
    "each job to its end. Every route but the health checks needs `Authorization: Bearer <API key>` "
    "(`flask --app chatcenter api-keys create NAME`). Every error is JSON `{\"detail\": \"...\"}`. Unknown "
    "query parameters and body fields are refused (400).")

ERRORS = {  # status: what it means, for every route that may answer it
    400: "Bad input: a parameter, header or body field (named first in the detail) is wrong, unknown or "
         "missing; or the body is not a JSON object",
    401: "No API key, not a Bearer credential, an unknown or a revoked key",
    403: "The API key is read-only: it may not ask for a change (the detail says so)",
    404: "No such seller, chat, job or saved reply (or not one of the sellers this key is limited to)",
    409: "The same job is already queued or running (job_id and Location name it)",
    413: f"The body is larger than {BODY_MAX} bytes",
    414: "The URL is too long (answered by nginx in front of the service)",
    422: "The Idempotency-Key was used for another reply within 24 h",
    503: "A service the API needs (the database, or Redis for jobs) is unavailable: try again",
}
HEADERS = {  # status: headers every such answer carries
    201: {"Location": "the new resource (/api/templates/<id>), or what lists it (a note: its chat)"},
    202: {"Location": "where to follow the job: /api/jobs/<job_id>"},
    401: {"WWW-Authenticate": 'Bearer realm="chatcenter"[, error="..."]'},
    503: {"Retry-After": "seconds"},
}
READS = (400, 401, 414, 503)  # any route behind the key: it reads the database
WRITES = (*READS, 403, 404, 413)

spec = SpecTree(
    "flask", mode="strict", title="chatcenter operators' API", version=__version__, description=DESCRIPTION,
    validation_error_status=400, validation_error_model=Error,
    security_schemes=[SecurityScheme(name="apiKey", data=SecuritySchemeData(
        type="http", scheme="bearer", description="An API key: cc_ and 43 characters"))],
    security={"apiKey": []},
    before=lambda req, resp, error, instance, adapter: _refuse(error),
    naming_strategy=lambda model: model.__name__, nested_naming_strategy=lambda parent, child: child,
)


class Documented(Response):
    """Answers described in the document but not validated one by one at run time: they are
    built from the same declarations (chatcenter/contract.py), and the API tests check every
    answer they get against the document. (Validating a page of 50 chats again would cost
    about a tenth of the request.)"""

    def find_model(self, code: int):
        return None


# Routes whose success is a file, not JSON: the types it may be (spectree documents JSON only).
FILE_ANSWERS = {"/api/chats/{chat_id}/attachments/{download_id}": ("image/jpeg", "image/png", "application/pdf")}


def answers(ok: tuple[int, Any, str], *errors: int, **described: str) -> Documented:
    """The route's answers: its success (status, model or None for a file, description) and
    the error statuses it may give (descriptions from ERRORS, or given by status as `s409="..."`)."""
    status, model, description = ok
    codes = {f"HTTP_{status}": (model, description)}
    for code in errors:
        codes[f"HTTP_{code}"] = (Error, described.get(f"s{code}", ERRORS[code]))
    return Documented(**codes)


def _refuse(error: Exception | None) -> None:
    if isinstance(error, ValidationError):
        raise refusal(error, _request_models()) from None


def _request_models() -> dict[str, type]:
    return {model.__name__: model for model in vars(inputs).values()
            if isinstance(model, type) and issubclass(model, BaseModel)}


_DOCUMENT: dict | None = None


def document(app: Flask) -> dict:
    """The OpenAPI 3.1 document: spectree's, with what it cannot say itself (answer headers,
    an optional empty body). Every app has the same routes: made once."""
    global _DOCUMENT
    if _DOCUMENT is None:
        with app.app_context():
            doc = copy.deepcopy(spec.spec)
        for path, operations in doc["paths"].items():
            for operation in operations.values():
                _complete(operation)
                if path in FILE_ANSWERS:
                    operation["responses"]["200"]["content"] = {
                        kind: {"schema": {"type": "string", "format": "binary"}} for kind in FILE_ANSWERS[path]}
                if path.startswith("/api/health"):  # the probes read no input: never a 400
                    del operation["responses"]["400"]
        _DOCUMENT = doc
    return _DOCUMENT


def _complete(operation: dict) -> None:
    for status, answer in operation["responses"].items():
        headers = HEADERS.get(int(status))
        if headers:
            answer["headers"] = {name: {"description": text, "schema": {"type": "string"}, "required": True}
                                 for name, text in headers.items()}
    for parameter in operation["parameters"]:
        if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
            parameter["schema"].update(minimum=1, maximum=ID_MAX)  # ids: what the database can hold
        # pydantic's title and "no value" default say nothing here
        parameter["schema"].pop("title", None)
        if parameter["schema"].get("default", "") is None:
            del parameter["schema"]["default"]
        if not parameter["description"]:
            del parameter["description"]
    body = operation.get("requestBody")
    if body and body["content"]["application/json"]["schema"]["$ref"].endswith("/" + NoBody.__name__):
        body["required"] = False  # no body at all is as good as {}
    if not operation["description"]:
        del operation["description"]


@bp.get("/openapi.json")
@spec.validate(query=NoQuery, resp=answers((200, Document, "OpenAPI 3.1"), *READS), tags=["meta"])
def openapi():
    """This document"""
    return document(current_app)

