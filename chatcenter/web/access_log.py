"""What gunicorn's access line needs from the app (its format is in gunicorn.conf.py).

gunicorn writes one access line per request in logfmt,
key=value pairs separated by spaces, no value containing a space or a quote:

    request_id=4f1c... method=GET path=/api/chats/7 route=/api/chats/<int:chat_id> status=200 duration_ms=12

The app contributes what gunicorn cannot know: the matched route and a path that is safe
to print (percent-encoded), through the WSGI environ. Query strings, headers and bodies
are never logged: they can carry tokens and buyers' data.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Flask, request

ROUTE_KEY = "chatcenter.route"
PATH_KEY = "chatcenter.path"
NO_VALUE = "-"


def _annotate_environ(response):
    rule = request.url_rule
    request.environ[ROUTE_KEY] = rule.rule if rule is not None else NO_VALUE
    # Percent-encode so a path with spaces or quotes cannot break the key=value line.
    request.environ[PATH_KEY] = quote(request.path, safe="/-._~!$&()*+,;=:@") or "/"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_annotate_environ)
