"""Who is signed in: the login and logout pages, the session check on every request, and
the lock-out after 5 failed logins per account and client in 15 minutes.

The session cookie holds the operator's id and a fingerprint of their password hash. Every
request loads the operator again: a disabled account (or a changed password) ends its
sessions at once, not when the cookie expires.
"""
from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from redis.exceptions import RedisError

from chatcenter import runtime
from chatcenter.clients.ratelimit import RedisRateLimiter
from chatcenter.config import REDIS_PREFIX
from chatcenter.observability.sentry import active_sdk
from chatcenter.operators import EMAIL_MAX, authenticate, record_login, session_holder
from chatcenter.web.inbox.blueprint import bp
from chatcenter.web.inbox.i18n import LANGUAGES
from chatcenter.web.inbox.i18n import SESSION_KEY as LANGUAGE_KEY
from chatcenter.web.inbox.params import has_control_characters, refuse_impossible_ids
from chatcenter.web.inbox.security import csrf
from chatcenter.web.reads import request_reader

log = logging.getLogger("chatcenter.inbox")

OPERATOR_KEY, FINGERPRINT_KEY = "operator_id", "auth"
LOGIN_FAILURES_ALLOWED = 5
LOGIN_FAILURE_WINDOW = 15 * 60  # seconds
# Open without a session: the login page, the language switch and the static files.
PUBLIC_ENDPOINTS = {"inbox.login", "inbox.language", "inbox.static"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class SignedIn:
    id: int
    email: str

    @property
    def requester(self) -> str:
        """How replies and Sentry name this operator: never the e-mail."""
        return f"operator:{self.id}"


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def signed_in_operator() -> SignedIn | None:
    operator_id = session.get(OPERATOR_KEY)
    if not isinstance(operator_id, int):
        return None
    with request_reader() as db:  # a read (no transaction), on the connection the page reads with
        operator = session_holder(db, operator_id)
    valid = (operator is not None and operator.active
             and session.get(FINGERPRINT_KEY) == fingerprint(operator.password_hash))
    found = SignedIn(operator.id, operator.email) if valid else None
    if found is None:
        _sign_out()
    return found


def _sign_out() -> None:
    language = session.get(LANGUAGE_KEY)  # the language choice outlives the sign-in
    session.clear()
    if language:
        session[LANGUAGE_KEY] = language


def _tell_sentry(operator: SignedIn) -> None:
    sdk = active_sdk()
    if sdk is not None:
        sdk.set_user({"id": operator.requester})  # the id only: no e-mail, no IP


def is_live_request() -> bool:
    """The pages' own background fetches: they get a status, not a redirect to a page."""
    return request.endpoint is not None and request.endpoint.startswith("inbox.live_")


@bp.before_request
def guard():
    if request.endpoint == "inbox.static":
        return None
    refuse_impossible_ids()
    if request.method not in SAFE_METHODS:
        csrf.protect()  # every form, the login form included
    g.operator = signed_in_operator()
    if g.operator is not None:
        _tell_sentry(g.operator)
        return None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if is_live_request():
        abort(401)
    return redirect(url_for("inbox.login", next=_here()))


def _here() -> str:
    query = request.query_string.decode("latin-1")
    return request.path + (f"?{query}" if query else "")


def safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not send the operator elsewhere."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not has_control_characters(target)):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("inbox.inbox")


def failed_logins(email: str, client: str) -> RedisRateLimiter:
    # The key is a digest: neither the e-mail nor the address is stored in Redis.
    digest = hashlib.sha256(f"{email}\n{client}".encode()).hexdigest()[:32]
    return RedisRateLimiter(runtime.get().redis, f"{REDIS_PREFIX}login-failures:{digest}",
                            limit=LOGIN_FAILURES_ALLOWED, period=LOGIN_FAILURE_WINDOW)


def _locked_message(wait_seconds: float) -> str:
    minutes = max(1, math.ceil(wait_seconds / 60))
    return _("Too many failed sign-ins for this account from this address. Try again in %(minutes)s min.",
             minutes=minutes)


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.values.get("next"))
    if g.operator is not None:
        return redirect(target)
    if request.method == "GET":
        return render_template("inbox/login.html", next=target, email="")
    email = request.form.get("email", "").strip().lower()[:EMAIL_MAX]
    password = request.form.get("password", "")

    def again(message: str, status: int):
        return render_template("inbox/login.html", next=target, email=email, error=message), status

    try:
        failures = failed_logins(email, request.remote_addr or "unknown")
        wait = failures.wait_seconds()
        if wait > 0:
            return again(_locked_message(wait), 429)
        with runtime.get().db.session() as db:
            operator = authenticate(db, email, password)
            if operator is not None and operator.active:
                record_login(db, operator.id)
            found = (operator.id, operator.password_hash, operator.active) if operator else None
        if found is None:
            failures.try_acquire()
            wait = failures.wait_seconds()
            message = _("Wrong e-mail or password.")
            return again(f"{message} {_locked_message(wait)}" if wait > 0 else message, 401)
    except RedisError as exc:
        # Without the failure count there is no lock-out: refuse rather than allow guessing.
        log.warning("sign-in refused: Redis unavailable for the failed-login count (%s)", type(exc).__name__)
        return again(_("Signing in is unavailable for a moment (the job queue cannot be reached). "
                       "Try again shortly."), 503)
    operator_id, password_hash, active = found
    if not active:
        return again(_("This account is disabled. Ask your administrator."), 403)
    _sign_out()  # a fresh session (and CSRF token) for the new sign-in
    session.permanent = True
    session[OPERATOR_KEY] = operator_id
    session[FINGERPRINT_KEY] = fingerprint(password_hash)
    log.info("operator %s signed in", operator_id)
    return redirect(target)


@bp.post("/logout")
def logout():
    log.info("operator %s signed out", g.operator.id)
    _sign_out()
    return redirect(url_for("inbox.login"))


@bp.get("/language/<code>")
def language(code: str):
    if code in LANGUAGES:
        session[LANGUAGE_KEY] = code
    return redirect(safe_next(request.args.get("next")))
