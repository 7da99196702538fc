"""The operator inbox in the browser: sign-in, the inbox, a chat, the sellers.

Server-rendered pages (Jinja), one stylesheet and one small script served from here,
English and Russian through Flask-Babel. See README "Inbox".
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask

from chatcenter.config import Settings
from chatcenter.web.errors import answer_in_pages, show_pages_with
from chatcenter.web.inbox import (  # noqa: F401  (their routes join the blueprint)
    account, auth, jobs_page, live, pages, reports_page, stale, templates_page,
)
from chatcenter.web.inbox.blueprint import bp
from chatcenter.web.inbox.error_pages import error_page
from chatcenter.web.inbox.i18n import init_i18n
from chatcenter.web.inbox.present import init_present
from chatcenter.web.inbox.secret_key import resolve_secret_key
from chatcenter.web.inbox.security import init_security

answer_in_pages(bp)


def init_inbox(app: Flask, settings: Settings) -> None:
    init_security(app, resolve_secret_key(settings), timedelta(hours=settings.session_lifetime_hours))
    init_i18n(app)
    init_present(app)
    show_pages_with(app, error_page)
    app.register_blueprint(bp)
