"""How values look on the pages: translated labels, times in the operator's zone, money,
waiting times, file sizes and URLs. Registered as Jinja globals and filters."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from functools import lru_cache, partial

from babel.dates import format_skeleton, format_time
from babel.dates import format_timedelta as babel_timedelta
from babel.numbers import format_currency, format_decimal
from flask import Flask
from flask_babel import get_locale, get_timezone, lazy_gettext as _l, pgettext, to_user_timezone

from chatcenter.attachments import product_url
from chatcenter.models import utcnow

URGENCY = {"high": _l("High urgency"), "medium": _l("Medium urgency"), "low": _l("Low urgency")}
SENTIMENT = {"negative": _l("Negative"), "neutral": _l("Neutral"), "positive": _l("Positive")}
CATEGORY = {"question": _l("Question"), "complaint": _l("Complaint"), "return": _l("Return"),
            "delivery": _l("Delivery"), "product_defect": _l("Product defect"), "other": _l("Other")}
SENDER = {"client": _l("Buyer"), "seller": _l("You (seller)"), "wb": _l("Wildberries")}
SYNC_STATE = {"idle": _l("Not synced yet"), "running": _l("Syncing"), "ok": _l("OK"),
              "error": _l("Failed, will retry"), "auth_error": _l("Token refused")}
REPLY_STATE = {"queued": _l("Queued"), "sending": _l("Sending to Wildberries"), "sent": _l("Sent"),
               "unconfirmed": _l("Not confirmed yet"), "failed": _l("Not sent")}
# What WB's moderation refuses (chatcenter.moderation's kinds), as the pages name it.
REFUSED_KIND = {"link": _l("a link"), "email": _l("an e-mail address"), "phone": _l("a phone number"),
                "social": _l("a social network's name")}


def parse_time(value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    return datetime.fromisoformat(value)


def when(value) -> str:
    """A moment in the operator's time zone: the time today, the day and time otherwise."""
    moment = parse_time(value)
    if moment is None:
        return ""
    local, now, locale = to_user_timezone(moment), to_user_timezone(utcnow()), get_locale()
    clock = format_time(local, "HH:mm", locale=locale)
    if local.date() == now.date():
        return clock
    day = format_skeleton("MMMd" if local.year == now.year else "yMMMd", local, locale=locale)
    return f"{day}, {clock}"


def iso(value) -> str:
    moment = parse_time(value)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds") if moment else ""


def since(value) -> str:
    """How long ago, short: "3 hr", "2 days" (in the page's language)."""
    moment = parse_time(value)
    if moment is None:
        return ""
    return babel_timedelta(utcnow() - moment, threshold=1, format="short", locale=get_locale())


# WB's price is data from outside: past this (or not finite) it is no price a shop asks, and
# Babel's decimal arithmetic fails on it (1e308, 10**30), so it is shown as written.
PRICE_SHOWN_MAX = 10**12


def money(amount, currency, locale=None) -> str:
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not math.isfinite(amount):
        return ""
    currency = currency if isinstance(currency, str) else None  # a list would not even hash
    if abs(amount) >= PRICE_SHOWN_MAX:
        return f"{amount:g} {currency or ''}".strip()
    return _money(amount, currency, locale or get_locale())


# Babel parses the pattern and looks up the currency on every call (a quarter of the inbox
# page's rendering); a price, currency and language always give the same text.
@lru_cache(maxsize=4096)
def _money(amount, currency, locale) -> str:
    try:
        # "1 490 ₽" in Russian, "1,490 RUB" in English: whole roubles unless there are kopecks.
        return format_currency(amount, currency or "RUB", "#,##0.## ¤", locale=locale, currency_digits=False)
    except (ValueError, KeyError, TypeError, ArithmeticError):  # a currency code Babel does not know
        return f"{amount} {currency or ''}".strip()


def page_file_url(api_url: str | None) -> str | None:
    """The page's URL of a file from the API's (the same path without /api): both serve it."""
    return api_url.removeprefix("/api") if api_url and api_url.startswith("/api/") else api_url


def file_size(size: int | None, locale=None) -> str:
    """1.4 MB, 820 KB, 96 B."""
    if size is None:
        return ""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{format_decimal(round(size / scale, 1), locale=locale or get_locale())} {unit}"
    return f"{size} B"


def status_label(status: str) -> str:
    """A chat's status, in the context of one chat ("Resolved"), apart from the views'
    names (the "Resolved" chats), which Russian words differently."""
    if status == "resolved":
        return pgettext("chat status", "Resolved")
    if status == "snoozed":
        return pgettext("chat status", "Snoozed")
    return pgettext("chat status", "Open")


def actor_name(actor: dict) -> str:
    """Who did it, as the thread names them: an operator by e-mail, an API key by name."""
    if actor["kind"] == "operator":
        return actor["name"] or str(_l("An operator"))
    if actor["kind"] == "api_key":
        return str(_l("API key %(name)s", name=actor["name"] or actor["id"]))
    return str(_l("Command line")) if actor["kind"] == "cli" else str(_l("The buyer"))


def change_line(change: dict) -> str:
    """A status or assignee change as a line of the thread ("anna@… resolved the chat")."""
    who, kind = actor_name(change["by"]), change["kind"]
    if kind == "resolved":
        return str(_l("%(who)s resolved the chat", who=who))
    if kind == "reopened":
        return (str(_l("Reopened by a new buyer message")) if change["by"]["kind"] == "buyer"
                else str(_l("%(who)s reopened the chat", who=who)))
    if kind == "snoozed":
        return str(_l("%(who)s snoozed the chat until %(time)s", who=who, time=when(change["snoozed_until"])))
    if kind == "assigned":
        return str(_l("%(who)s assigned the chat to %(name)s", who=who, name=change["assignee"]["name"]))
    return str(_l("%(who)s unassigned the chat", who=who))


# (language, mapping, value) -> the translated label: the catalogues are loaded once per
# process, so a label need not go through Flask-Babel's lookup each time it is shown.
_LABELS: dict[tuple, str] = {}


def label(mapping: dict, value, locale: str | None = None) -> str:
    if value not in mapping:
        return str(value or "")
    key = (locale or str(get_locale()), id(mapping), value)
    text = _LABELS.get(key)
    if text is None:
        text = _LABELS[key] = str(mapping[value])
    return text


def init_present(app: Flask) -> None:
    app.jinja_env.filters.update(when=when, iso=iso, since=since)
    app.jinja_env.globals.update(
        money=money, product_url=product_url, page_file_url=page_file_url, file_size=file_size, label=label,
        change_line=change_line, actor_name=actor_name, status_label=status_label,
        URGENCY=URGENCY, SENTIMENT=SENTIMENT, CATEGORY=CATEGORY, SENDER=SENDER, SYNC_STATE=SYNC_STATE,
        REPLY_STATE=REPLY_STATE, current_timezone=lambda: str(get_timezone()),
        current_language=lambda: str(get_locale()),
    )
    app.context_processor(_in_page_language)


def _in_page_language() -> dict:
    """label and money with the page's language looked up once per render, not per call."""
    locale = get_locale()
    return {"label": partial(label, locale=str(locale)), "money": partial(money, locale=locale)}
