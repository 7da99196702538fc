"""Every error answer of the API is JSON {"detail": ...} with the right status; the inbox's
routes (and unknown paths a browser asks for) get an HTML page instead, from the renderer
the inbox registers with `set_error_page`.

Only HTTPException subclasses get handlers. An unhandled exception becomes a 500 whose
handler runs *after* Flask has signalled got_request_exception, so Sentry still reports it
exactly once; 4xx answers are not errors and report nothing.
"""
from __future__ import annotations

import logging
from typing import Callable

from flask import Flask, Request, Response, current_app, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError, ServiceUnavailable

from chatcenter.queues import QueueUnavailable

log = logging.getLogger("chatcenter.errors")
QUEUE_RETRY_AFTER = 5  # seconds: Redis restarts are quick
API_PREFIX = "/api"
ERROR_PAGE = "chatcenter.error_page"  # app.extensions key: renders an HTTPException as a page


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


def set_error_page(app: Flask, render: Callable[[HTTPException], Response], blueprint: str) -> None:
    """Errors of `blueprint`'s routes (and of unknown paths a browser asks for) become pages."""
    app.extensions[ERROR_PAGE] = (render, blueprint)


def _page_renderer() -> Callable[[HTTPException], Response] | None:
    """The HTML renderer when this request should get a page; None for a JSON answer."""
    registered = current_app.extensions.get(ERROR_PAGE)
    path = request.path
    if registered is None or path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return None
    render, blueprint = registered
    if request.url_rule is not None:  # a route of ours: pages for the page blueprint only
        return render if request.blueprint == blueprint else None
    # No route matched (404, 405): a browser gets a page, any other client JSON.
    wanted = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return render if wanted == "text/html" else None


def _http_error(exc: HTTPException):
    page = _page_renderer()
    if page is not None:
        response = current_app.make_response(page(exc))
    else:
        response = error_response(exc.code or 500, exc.description or exc.name)
    for header in ("Allow", "Retry-After"):
        if exc.get_response().headers.get(header):
            response.headers[header] = exc.get_response().headers[header]
    return response


def _internal_error(exc: InternalServerError):
    page = _page_renderer()
    if page is not None:
        return page(InternalServerError())  # no exception text on a page
    original = getattr(exc, "original_exception", None)
    if isinstance(original, PublicError):
        return error_response(500, original.public_detail)
    return error_response(500, "Internal server error")


def _queue_unavailable(exc: QueueUnavailable):
    # A fault of our own infrastructure, not of the request: 503 so clients retry; the
    # readiness check and this log line tell operators (no Sentry event per request).
    log.warning("%s", exc)
    page = _page_renderer()
    if page is not None:
        response = current_app.make_response(page(ServiceUnavailable()))
    else:
        response = error_response(503, "The job queue is unavailable; try again in a few seconds")
    response.headers["Retry-After"] = str(QUEUE_RETRY_AFTER)
    return response


def register_error_handlers(app: Flask) -> None:
    app.request_class = JSONRequest
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(QueueUnavailable, _queue_unavailable)
