"""`Authorization: Bearer <API key>` on every API route (the health routes are elsewhere).

A refusal is 401 JSON with `WWW-Authenticate: Bearer` (RFC 6750). The key gives the request
its Scope (the sellers it sees, read-only or not: chatcenter/web/scope.py). The key's id becomes
the request's identity: `api-key-<id>` for replies and for Sentry's user context (never
the key or its name).
"""
from __future__ import annotations

from flask import g, request

from chatcenter import api_keys, runtime
from chatcenter.web.errors import error_response
from chatcenter.web.reads import request_reader
from chatcenter.web.scope import enter
from chatcenter.web.sentry_context import identify

REALM = "chatcenter"
REQUESTER_PREFIX = "api-key-"
USAGE = "send the header `Authorization: Bearer <API key>` (create one with `flask api-keys create NAME`)"


def unauthorized(detail: str, error: str | None = None):
    response = error_response(401, f"Authorization: {detail}")
    challenge = f'Bearer realm="{REALM}"'
    if error:
        challenge += f', error="{error}"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def require_api_key():
    header = request.headers.get("Authorization")
    if not header:
        return unauthorized(f"missing; {USAGE}")
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return unauthorized(f"not a Bearer credential; {USAGE}", error="invalid_request")
    try:
        # Read without a transaction (no BEGIN/COMMIT round trips), on the connection the
        # view reads with; the key is read on every request, so a revocation counts at once.
        with request_reader() as session:
            key = api_keys.verify(session, credentials)
            scope = api_keys.scope_of(session, key)
    except api_keys.KeyRefused as refused:
        return unauthorized(f"the key {refused}", error="invalid_token")
    if api_keys.touch_due(key):  # about once a minute per key
        with runtime.get().db.session() as session:
            api_keys.touch(session, key)
    key_id = key.id
    # "api-key-3", not "api-key:3": the scrubber masks whatever follows "api-key:" in any
    # text sent to Sentry, and the id is what makes the user context worth having.
    g.requester = f"{REQUESTER_PREFIX}{key_id}"
    identify(g.requester)
    enter(scope)  # what the key sees; a read-only key's change is refused here (403)
    return None
