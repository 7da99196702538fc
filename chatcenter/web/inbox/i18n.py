"""Languages (English, Russian) and the operator's time zone for the inbox pages.

The language is the one the operator chose with the switch (kept in the session), else
the best match of the browser's Accept-Language, else English. Times are shown in the
browser's time zone, which the page's script reports in the `tz` cookie; UTC until then.
"""
from __future__ import annotations

from pathlib import Path

import pytz
from flask import Flask, request, session
from flask_babel import Babel, get_translations
from jinja2.ext import _make_new_gettext, _make_new_ngettext

LANGUAGES = {"en": "English", "ru": "Русский"}
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "language"
TZ_COOKIE = "tz"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def select_language() -> str:
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LANGUAGE


def select_timezone() -> str:
    name = request.cookies.get(TZ_COOKIE, "")
    return name if name in pytz.all_timezones_set else "UTC"


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    Babel(app, locale_selector=select_language, timezone_selector=select_timezone)
    app.context_processor(_bound_gettext)


def _bound_gettext() -> dict:
    """The templates' gettext and ngettext, bound to this request's translations once per
    page: Flask-Babel's own look them up again for each string (several context-local
    lookups, some 150 strings on the inbox page). Jinja's own newstyle wrappers (private to
    jinja2.ext, hence the pin and tests/test_dependencies.py) keep its escaping and
    %-formatting exactly."""
    translations = get_translations()
    gettext = _make_new_gettext(translations.ugettext)
    # `_` too: Jinja's own `_` only resolves `gettext` again and calls it.
    return {"_": gettext, "gettext": gettext, "ngettext": _make_new_ngettext(translations.ungettext)}
