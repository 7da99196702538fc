"""One id per request: taken from X-Request-ID when sane, generated otherwise.

The id goes on flask.g, on the response, into log records (observability.logs), into the
WSGI environ for gunicorn's access line, and onto Sentry events as the `request_id` tag.
nginx sets the header (its own $request_id unless the client sent one), so one id
follows a request through nginx's log, gunicorn's access log, app logs and Sentry.
"""
from __future__ import annotations

import re
import uuid

from flask import Flask, g, request

from chatcenter.web.sentry_context import tag_request

HEADER = "X-Request-ID"
ENVIRON_KEY = "chatcenter.request_id"  # read by gunicorn's access log format

# Letters, digits and . _ - only, 8 to 128 characters: nginx's $request_id (32 hex) and
# UUIDs pass; anything that could break a log line (spaces, quotes, newlines) does not.
_SANE = re.compile(r"[A-Za-z0-9._-]{8,128}")


def is_sane(value: str | None) -> bool:
    return bool(value) and _SANE.fullmatch(value) is not None


def new_request_id() -> str:
    return uuid.uuid4().hex


def _assign() -> None:
    incoming = request.headers.get(HEADER)
    request_id = incoming if is_sane(incoming) else new_request_id()
    g.request_id = request_id
    request.environ[ENVIRON_KEY] = request_id
    tag_request(request_id)


def _echo(response):
    request_id = g.get("request_id")
    if request_id:
        response.headers[HEADER] = request_id
    return response


def init_app(app: Flask) -> None:
    """Register first, so every later hook, view and error handler sees the id."""
    app.before_request_funcs.setdefault(None, []).insert(0, _assign)
    app.after_request(_echo)
