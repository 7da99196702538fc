"""What a request tells Sentry about itself: its id and who made it (ids only).

The web layer's one link to Sentry, so that views and auth only name the request's
requester. sentry_sdk is looked up, never imported: with Sentry off it is not loaded.
"""
from __future__ import annotations

import sys


def _sdk():
    sdk = sys.modules.get("sentry_sdk")
    return sdk if sdk is not None and sdk.get_client().is_active() else None


def tag_request(request_id: str) -> None:
    sdk = _sdk()
    if sdk is not None:
        sdk.get_isolation_scope().set_tag("request_id", request_id)  # the request's own scope


def identify(requester: str) -> None:
    """`operator:3` or `api-key-7`: the id only, never an e-mail, a key or an address."""
    sdk = _sdk()
    if sdk is not None:
        sdk.set_user({"id": requester})
