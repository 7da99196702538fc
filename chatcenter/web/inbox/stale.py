"""The banner on every inbox page while a seller's polls fail: its chats are going stale.

The poller writes a seller's failing polls (what failed, since when) and clears them at the
first good poll. The banner is a live part (inbox.js): an open page shows it, and drops it,
within STALE_REFRESH seconds without a reload.
"""
from __future__ import annotations

from flask import g

from chatcenter import runtime
from chatcenter.queries import failing_sellers
from chatcenter.web.inbox.blueprint import bp
from chatcenter.web.scope import current_scope

STALE_REFRESH = 20  # seconds


def stale_part() -> dict:
    with runtime.get().db.session() as session:
        return {"sellers": failing_sellers(session, scope=current_scope()), "refresh": STALE_REFRESH}


@bp.context_processor
def _stale_banner() -> dict:
    # A function, so a page asks the database only when it renders the banner (signed in).
    return {"stale_part": stale_part if g.get("operator") else None}


@bp.get("/live/stale")
def live_stale():
    from chatcenter.web.inbox.live import fragment

    return fragment("inbox/_stale.html", stale=stale_part())
