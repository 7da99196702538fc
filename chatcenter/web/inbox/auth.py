"""Who is signed in: the login and logout pages, the session check on every request, and
sign-in throttling (see login_throttle.py).

The session cookie (signed, not readable by scripts) holds the operator's id, the session
generation it was signed in under, when it was signed in and when it was last used. Every
request loads the operator again (one indexed read) and refuses a session that is from an
older generation (signed out, password changed, account disabled), older than
SESSION_LIFETIME_HOURS, or unused for SESSION_IDLE_MINUTES.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from redis.exceptions import RedisError

from chatcenter import runtime
from chatcenter.web.sentry_context import identify
from chatcenter.operators import EMAIL_MAX, authenticate, end_sessions, record_login, scope_of, session_holder
from chatcenter.scope import Scope
from chatcenter.web.inbox.blueprint import bp
from chatcenter.web.inbox.i18n import LANGUAGES
from chatcenter.web.inbox.i18n import SESSION_KEY as LANGUAGE_KEY
from chatcenter.web.inbox.login_throttle import LoginThrottle, Refused
from chatcenter.web.inbox.params import has_control_characters, refuse_impossible_ids
from chatcenter.web.inbox.security import csrf
from chatcenter.web.reads import request_reader
from chatcenter.web.scope import check_url_ids, enter

log = logging.getLogger("chatcenter.inbox")

OPERATOR_KEY, GENERATION_KEY, SIGNED_IN_KEY, SEEN_KEY = "operator_id", "generation", "signed_in", "seen"
SEEN_EVERY = 30  # seconds: "last used" is rewritten at most this often
# Open without a session: the login page, the language switch and the static files.
PUBLIC_ENDPOINTS = {"inbox.login", "inbox.language", "inbox.static"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class SignedIn:
    id: int
    email: str
    role: str  # admin or agent: the top bar shows it
    scope: Scope  # the sellers this operator sees (chatcenter/scope.py)

    @property
    def requester(self) -> str:
        """How replies and Sentry name this operator: never the e-mail."""
        return f"operator:{self.id}"


def signed_in_operator() -> SignedIn | None:
    operator_id = session.get(OPERATOR_KEY)
    if not isinstance(operator_id, int):
        return None
    with request_reader() as db:  # a read (no transaction), on the connection the page reads with
        operator = session_holder(db, operator_id)
        valid = (operator is not None and operator.active
                 and session.get(GENERATION_KEY) == operator.session_generation and _session_is_fresh())
        found = SignedIn(operator.id, operator.email, operator.role, scope_of(db, operator)) if valid else None
    if found is None:
        _sign_out()
    return found


def _session_is_fresh() -> bool:
    settings = runtime.get().settings
    now = time.time()
    signed_in, seen = session.get(SIGNED_IN_KEY), session.get(SEEN_KEY)
    if not isinstance(signed_in, (int, float)) or not isinstance(seen, (int, float)):
        return False
    if now - signed_in > settings.session_lifetime_hours * 3600 or now - seen > settings.session_idle_minutes * 60:
        return False
    if now - seen >= SEEN_EVERY:
        session[SEEN_KEY] = int(now)
    return True


def start_session(operator_id: int, generation: int) -> None:
    """A fresh session (and CSRF token) for a sign-in, or for the session that changed the password."""
    _sign_out()
    now = int(time.time())
    session.permanent = True
    session.update({OPERATOR_KEY: operator_id, GENERATION_KEY: generation, SIGNED_IN_KEY: now, SEEN_KEY: now})


def _sign_out() -> None:
    language = session.get(LANGUAGE_KEY)  # the language choice outlives the sign-in
    session.clear()
    if language:
        session[LANGUAGE_KEY] = language


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
        identify(g.operator.requester)
        enter(g.operator.scope)
        check_url_ids()  # another seller's chat or seller: the 404 page, as for one that does not exist
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


def throttle_for(email: str) -> LoginThrottle:
    return LoginThrottle(runtime.get().redis, email, request.remote_addr or "unknown")


def locked_message(refused: Refused) -> str:
    minutes = max(1, math.ceil(refused.wait_seconds / 60))
    if refused.per_address:
        return _("Too many failed sign-ins for this account from this address. Try again in %(minutes)s min.",
                 minutes=minutes)
    return _("Too many failed sign-ins for this account. Try again in %(minutes)s min.", minutes=minutes)


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
        throttle = throttle_for(email)
        refused = throttle.take()  # counted before the password is checked: guesses cannot race
        if refused is not None:
            return again(locked_message(refused), 429)
        with runtime.get().db.session() as db:
            operator = authenticate(db, email, password)
            # A disabled account answers exactly like a wrong password: no hint that it exists.
            found = (operator.id, operator.session_generation) if operator is not None and operator.active else None
            if found is not None:
                record_login(db, operator.id)
        if found is None:
            refused = throttle.refused_next()
            message = _("Wrong e-mail or password.")
            return again(f"{message} {locked_message(refused)}" if refused else message, 401)
        throttle.give_back()
    except RedisError as exc:
        # Without the attempt count there is no throttle: refuse rather than allow guessing.
        log.warning("sign-in refused: Redis unavailable for the sign-in count (%s)", type(exc).__name__)
        return again(_("Signing in is unavailable for a moment (the job queue cannot be reached). "
                       "Try again shortly."), 503)
    operator_id, generation = found
    start_session(operator_id, generation)
    log.info("operator %s signed in", operator_id)
    return redirect(target)


@bp.post("/logout")
def logout():
    # Raising the generation ends this session on the server: a copy of the cookie is
    # refused from now on (and so is every other session of this operator).
    with runtime.get().db.session() as db:
        end_sessions(db, g.operator.id)
    log.info("operator %s signed out", g.operator.id)
    _sign_out()
    return redirect(url_for("inbox.login"))


@bp.get("/language/<code>")
def language(code: str):
    if code in LANGUAGES:
        session[LANGUAGE_KEY] = code
    return redirect(safe_next(request.args.get("next")))
