"""Every error answer is JSON {"detail": ...} with the right status.

Only HTTPException subclasses get handlers. An unhandled exception becomes a 500 whose
handler runs *after* Flask has signalled got_request_exception, so Sentry still reports it
exactly once; 4xx answers are not errors and report nothing.
"""
from __future__ import annotations

import logging

from flask import Flask, Request, jsonify
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from chatcenter.queues import QueueUnavailable

log = logging.getLogger("chatcenter.errors")
QUEUE_RETRY_AFTER = 5  # seconds: Redis restarts are quick


class PublicError(Exception):
    """An exception whose message is safe to show the client in a 500 answer."""

    public_prefix = ""

    @property
    def public_detail(self) -> str:
        return f"{self.public_prefix}{self}"


class JSONRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None):
        # The decoder's message gives the position, never the body itself.
        where = f": {e}" if e is not None else ""
        raise BadRequest(f"Request body is not valid JSON{where}")


def error_response(status: int, detail: str):
    response = jsonify(detail=detail)
    response.status_code = status
    return response


def _http_error(exc: HTTPException):
    response = error_response(exc.code or 500, exc.description or exc.name)
    for header in ("Allow", "Retry-After"):
        if exc.get_response().headers.get(header):
            response.headers[header] = exc.get_response().headers[header]
    return response


def _internal_error(exc: InternalServerError):
    original = getattr(exc, "original_exception", None)
    if isinstance(original, PublicError):
        return error_response(500, original.public_detail)
    return error_response(500, "Internal server error")


def _queue_unavailable(exc: QueueUnavailable):
    # A fault of our own infrastructure, not of the request: 503 so clients retry; the
    # readiness check and this log line tell operators (no Sentry event per request).
    log.warning("%s", exc)
    response = error_response(503, "The job queue is unavailable; try again in a few seconds")
    response.headers["Retry-After"] = str(QUEUE_RETRY_AFTER)
    return response


def register_error_handlers(app: Flask) -> None:
    app.request_class = JSONRequest
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(QueueUnavailable, _queue_unavailable)
