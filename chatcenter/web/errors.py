"""Errors answered in one place: the API's blueprint answers JSON {"detail": ...}, the inbox's
blueprint an error page, each through one handler registered on it; requests that no route
matched (404, 405) get a page when a browser asks outside /api, JSON otherwise.

What is answered here: the request errors of chatcenter.errors (each with its status),
Werkzeug's HTTP errors (405, 413, ...), and outages of what we depend on (Redis, the
database) as 503 with Retry-After and one log line. A handler that returns an answer ends
the exception there: none of these reaches Sentry. Anything else is a fault of ours: Flask
signals it (Sentry reports it once) and then asks the 500 handler, which answers without
the exception's text.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from flask import Blueprint, Flask, Request, Response, current_app, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import BadRequest, HTTPException

from chatcenter.db import is_outage
from chatcenter.errors import DatabaseUnavailable, ServiceError, Unavailable
from chatcenter.queues import QueueUnavailable

log = logging.getLogger("chatcenter.errors")
API_PREFIX = "/api"
ERROR_PAGE = "chatcenter.error_page"  # app.extensions key: the inbox's page renderer
ANSWERED = (HTTPException, ServiceError, SQLAlchemyError, RedisError)
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Location")


class PublicError(Exception):
    """An unexpected exception (reported to Sentry) whose message may be shown in the 500."""

    public_prefix = ""

    @property
    def public_detail(self) -> str:
        return f"{self.public_prefix}{self}"


class JSONRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None):
        # The decoder's message gives the position, never the body itself.
        where = f": {e}" if e is not None else ""
        raise BadRequest(f"Request body is not valid JSON{where}")


@dataclass
class Answer:
    """What the client is told, whichever form (JSON or page) it takes."""

    status: int
    detail: str
    error: BaseException
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


PageRenderer = Callable[[Answer], Response]


def error_response(status: int, detail: str, **extra) -> Response:
    response = jsonify(detail=detail, **extra)
    response.status_code = status
    return response


def answer_of(exc: BaseException) -> Answer:
    """The answer to an exception, or the exception raised again when it is a fault of ours."""
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        detail = exc.description or exc.name
        if status == 500:  # an unexpected exception: its text stays here, unless written for clients
            original = getattr(exc, "original_exception", None)
            detail = original.public_detail if isinstance(original, PublicError) else "Internal server error"
        headers = exc.get_response().headers
        return Answer(status, detail, exc, {name: headers[name] for name in KEPT_HEADERS if name in headers})
    known = _service_error(exc)
    if known is None:
        raise exc  # a fault of ours (a bug, a failing statement): Flask answers 500, Sentry reports it
    if isinstance(known, Unavailable):
        # An outage: clients retry; operators see it here and in /api/health/ready, once per
        # request, without a traceback and without a Sentry event.
        log.warning("%s %s: answered 503, %s (%s)", request.method, request.path, known.detail.split(";")[0],
                    getattr(known, "cause_name", type(exc).__name__))
    return Answer(known.status, known.detail, known, known.headers, known.extra)


def _service_error(exc: BaseException) -> ServiceError | None:
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, RedisError):
        return QueueUnavailable(exc)
    if isinstance(exc, SQLAlchemyError) and is_outage(exc):
        return DatabaseUnavailable(exc)
    return None


def json_answer(exc: BaseException) -> Response:
    answer = answer_of(exc)
    response = error_response(answer.status, answer.detail, **answer.extra)
    response.headers.update(answer.headers)
    return response


def page_answer(exc: BaseException) -> Response:
    answer = answer_of(exc)
    render: PageRenderer = current_app.extensions[ERROR_PAGE]
    response = current_app.make_response(render(answer))
    response.headers.update(answer.headers)
    return response


def _unrouted_answer(exc: BaseException) -> Response:
    """No blueprint of ours answers this request (no route matched, or a route outside both):
    a browser gets a page outside /api, any other client JSON."""
    path = request.path
    if request.blueprint is None and ERROR_PAGE in current_app.extensions and not (
            path == API_PREFIX or path.startswith(API_PREFIX + "/")):
        wanted = request.accept_mimetypes.best_match(["application/json", "text/html"])
        if wanted == "text/html":
            return page_answer(exc)
    return json_answer(exc)


def _register(target: Flask | Blueprint, handler: Callable[[BaseException], Response]) -> None:
    for exc_class in ANSWERED:
        target.register_error_handler(exc_class, handler)


def answer_in_json(bp: Blueprint) -> None:
    """Errors of `bp`'s routes (and of its children) become JSON answers."""
    _register(bp, json_answer)


def answer_in_pages(bp: Blueprint) -> None:
    """Errors of `bp`'s routes become pages, drawn by the renderer `show_pages_with` set."""
    _register(bp, page_answer)


def show_pages_with(app: Flask, render: PageRenderer) -> None:
    """The error page renderer, for the page blueprint and for unknown paths a browser asks for."""
    app.extensions[ERROR_PAGE] = render


def register_error_handlers(app: Flask) -> None:
    app.request_class = JSONRequest
    _register(app, _unrouted_answer)
