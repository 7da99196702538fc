"""The request's Scope (chatcenter/scope.py), for the API's and the inbox's views.

Each blueprint's before_request builds it once, from the API key or the signed-in operator,
and calls `enter` (which refuses a read-only key's changes, 403), then, once the URL's ids are
known to be in the database's range, `check_url_ids`, which answers 404 for a URL naming a
seller, chat or job outside the scope, as for one that does not exist.
Views read it with `current_scope()`; a view that runs without one (a blueprint that forgot
to set it) fails instead of showing everything.
"""
from __future__ import annotations

import functools

from flask import abort, g, request

from chatcenter.errors import Forbidden
from chatcenter.scope import Scope, check_ids
from chatcenter.web.reads import request_reader

_KEY = "chatcenter_scope"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ReadOnlyKey(Forbidden):
    def __init__(self, method: str):
        super().__init__(f"Authorization: this API key is read-only and may not {method}: it can only read (GET). "
                         "Ask for a read-write key (flask api-keys create NAME, without --read-only)")


def enter(scope: Scope) -> None:
    """Set the request's scope; 403 for a change asked with a read-only key (about the key's
    power, whatever the URL names)."""
    setattr(g, _KEY, scope)
    if scope.read_only and request.method not in SAFE_METHODS:
        raise ReadOnlyKey(request.method)


def check_url_ids() -> None:
    """404 for a URL whose seller_id, chat_id or job_id is outside the request's scope."""
    scope = current_scope()
    if not scope.all_sellers:  # an admin's or unrestricted key's request reads nothing here
        with request_reader() as session:
            check_ids(session, scope, request.view_args)


def current_scope() -> Scope:
    scope = g.get(_KEY)
    if scope is None:
        raise RuntimeError("no scope for this request: its blueprint must call chatcenter.web.scope.enter")
    return scope


def admin_only(view):
    """A page for admins (every seller): anyone else gets the 404 of an unknown address."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if not current_scope().all_sellers:
            abort(404)
        return view(*args, **kwargs)

    return guarded
