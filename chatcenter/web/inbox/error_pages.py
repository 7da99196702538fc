"""Errors on the inbox's pages are pages too (in the operator's language); /api stays JSON.

web/errors.py decides what the answer is (status, detail) and calls `error_page` to show it.
"""
from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from chatcenter.errors import NotFound, Unavailable
from chatcenter.web.errors import Answer


def _titles() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The address or the form has a value the inbox cannot use.")),
        401: (_("Please sign in"), _("Your session has ended. Sign in again to go on.")),
        403: (_("Not allowed"), _("You may not do this.")),
        404: (_("Not found"), _("There is no such page.")),
        405: (_("Not allowed"), _("This address does not take this kind of request.")),
        413: (_("Too large"), _("What you sent is too large.")),
        429: (_("Too many requests"), _("Wait a moment, then try again.")),
        500: (_("Something went wrong"), _("The error was recorded. Try again; if it repeats, tell your administrator.")),
        503: (_("Temporarily unavailable"), _("A service the inbox needs is unavailable. Try again in a few seconds.")),
    }


def _missing(error: NotFound) -> str:
    """"Chat 7 does not exist." in the operator's language, for what the pages show."""
    if error.what == "chat":
        return _("Chat %(id)s does not exist.", id=error.ident)
    if error.what == "seller":
        return _("Seller %(id)s does not exist.", id=error.ident)
    return error.detail


def _detail(error: BaseException, detail: str) -> str:
    if isinstance(error, NotFound):
        return _missing(error)
    if isinstance(error, Unavailable):
        return ""  # the translated explanation says it
    if isinstance(error, HTTPException):
        # Our own aborts carry a specific description; Werkzeug's generic English ones are
        # replaced by the translated explanation.
        return detail if detail and detail != type(error).description and error.code != 500 else ""
    return detail


def error_page(answer: Answer):
    status = answer.status
    title, explanation = _titles().get(status, (getattr(answer.error, "name", str(status)), ""))
    detail = _detail(answer.error, answer.detail)
    if isinstance(answer.error, CSRFError):
        title, detail = _("This form has expired"), _(
            "The page was open from an earlier sign-in. Reload it and try again; nothing was sent.")
    return render_template("inbox/error.html", status=status, title=title, explanation=explanation,
                           detail=detail), status
