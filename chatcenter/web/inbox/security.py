"""Browser-facing protections: the session cookie, CSRF tokens and security headers."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

# Scripts, styles, images and requests from this app only; no inline code, no frames,
# forms post only here. The pages need nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
SESSION_COOKIE = "chatcenter_session"

csrf = CSRFProtect()


class InboxSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request came over https (behind
    nginx that is X-Forwarded-Proto, trusted through PROXY_COUNT), plain on http://127.0.0.1."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        # Pages hold buyers' messages: no shared or back-button cache keeps them.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_security(app: Flask, secret_key: str, session_lifetime: timedelta) -> None:
    app.secret_key = secret_key
    app.session_interface = InboxSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The browser forgets the cookie when the session's absolute lifetime is over; the
        # server refuses it then anyway (auth.py), and sooner when it is signed out or idle.
        PERMANENT_SESSION_LIFETIME=session_lifetime,
        # The inbox checks tokens itself (auth.py, before each request); /api uses keys, not cookies.
        WTF_CSRF_CHECK_DEFAULT=False,
        # A page left open all day must still send: the token lives as long as the session.
        WTF_CSRF_TIME_LIMIT=None,
    )
    csrf.init_app(app)
    app.after_request(add_security_headers)
