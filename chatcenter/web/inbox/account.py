"""The operator's own account: changing the password.

The current password is checked under the same throttle as a sign-in (a stolen session must
not become a way to guess it); a new password ends every other session of the operator,
and this one goes on under the new session generation.
"""
from __future__ import annotations

import logging

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from redis.exceptions import RedisError

from chatcenter import runtime
from chatcenter.errors import BadInput
from chatcenter.operators import PASSWORD_MAX, PASSWORD_MIN, authenticate, check_password_rules, set_password
from chatcenter.web.inbox.auth import locked_message, start_session, throttle_for
from chatcenter.web.inbox.blueprint import bp

log = logging.getLogger("chatcenter.inbox")


def _page(error: str | None = None, status: int = 200):
    return render_template("inbox/password.html", error=error, password_min=PASSWORD_MIN,
                           password_max=PASSWORD_MAX), status


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    if request.method == "GET":
        return _page()
    current, new = request.form.get("current_password", ""), request.form.get("new_password", "")
    if new != request.form.get("new_password_again", ""):
        return _page(_("The two new passwords differ. Type the same one twice."), 400)
    try:
        check_password_rules(new)
    except BadInput:
        return _page(_("The new password must be %(min)s to %(max)s characters.",
                       min=PASSWORD_MIN, max=PASSWORD_MAX), 400)
    try:
        throttle = throttle_for(g.operator.email)
        refused = throttle.take()
        if refused is not None:
            return _page(locked_message(refused), 429)
        with runtime.get().db.session() as db:
            operator = authenticate(db, g.operator.email, current)
            if operator is not None and operator.id == g.operator.id:
                generation = set_password(db, operator, new)
            else:
                generation = None
        if generation is None:
            return _page(_("The current password is wrong."), 400)
        throttle.give_back()
    except RedisError as exc:
        log.warning("password change refused: Redis unavailable for the attempt count (%s)", type(exc).__name__)
        return _page(_("Changing the password is unavailable for a moment (the job queue cannot be reached). "
                       "Try again shortly."), 503)
    start_session(g.operator.id, generation)  # this browser goes on; every other session has ended
    log.info("operator %s changed their password; their other sessions ended", g.operator.id)
    flash(_("Password changed. Your other sessions have ended."), "ok")
    return redirect(url_for("inbox.inbox"))
