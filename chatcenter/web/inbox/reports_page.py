"""The Reports page: response times per seller and operator for a period, with a chart of
first-response times per day and one of messages in and replies out per hour
(chatcenter.reports, as the API's /api/reports/response-times). For admins: an agent gets the
404 page."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import abort, render_template, request
from flask_babel import gettext as _

from chatcenter import reports, runtime
from chatcenter.queries import list_sellers
from chatcenter.web.inbox import charts
from chatcenter.web.inbox.blueprint import bp
from chatcenter.web.reads import request_reader
from chatcenter.web.scope import admin_only, current_scope

DAYS_OF_HOURS = 14  # longer periods chart their traffic per day: hours would be slivers


def duration(seconds) -> str:
    """3300 -> "55 min", 7500 -> "2 h 5 min", 90000 -> "25 h"."""
    if seconds is None:
        return "—"
    minutes = round(float(seconds) / 60)
    if minutes < 60:
        return _("%(minutes)s min", minutes=minutes)
    hours, rest = divmod(minutes, 60)
    if hours >= 24 or not rest:
        return _("%(hours)s h", hours=hours)
    return _("%(hours)s h %(minutes)s min", hours=hours, minutes=rest)


def _day(args, name: str, default: date) -> date:
    raw = args.get(name, "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, _("%(name)s must be a date such as 2026-12-01.", name=name))


def _period(args) -> reports.Period:
    today = datetime.now(timezone.utc).date()
    last = _day(args, "to", today)
    first = _day(args, "from", last - timedelta(days=6))
    seller = args.get("seller", "").strip()
    if seller and not (seller.isascii() and seller.isdigit() and len(seller) <= 9):
        abort(400, _("seller must be a seller's number."))
    period = reports.Period(datetime.combine(first, time.min, timezone.utc),
                            datetime.combine(last + timedelta(days=1), time.min, timezone.utc),
                            int(seller) if seller else None)
    try:
        period.check()
    except ValueError as exc:
        abort(400, str(exc))
    return period


def _traffic_chart(period: reports.Period, hourly: list[dict]) -> charts.Chart:
    by_hour = {row["hour"]: row for row in hourly}
    per_day = period.end - period.start > timedelta(days=DAYS_OF_HOURS)
    slots, labels = [], []
    moment = period.start
    label_every = max(1, -(-(period.end - period.start).days // 7))  # at most about 7 day labels
    while moment < period.end:
        if per_day:
            day = moment.strftime("%Y-%m-%d")
            rows = [by_hour.get(f"{day}T{h:02d}", {}) for h in range(24)]
            slots.append((sum(r.get("incoming", 0) for r in rows), sum(r.get("outgoing", 0) for r in rows)))
            labels.append(moment.strftime("%d.%m"))
            moment += timedelta(days=1)
        else:
            row = by_hour.get(moment.strftime("%Y-%m-%dT%H"), {})
            slots.append((row.get("incoming", 0), row.get("outgoing", 0)))
            day_index = (moment - period.start).days
            labels.append(moment.strftime("%d.%m") if moment.hour == 0 and day_index % label_every == 0 else "")
            moment += timedelta(hours=1)
    title = _("Messages in and replies out per day") if per_day else _("Messages in and replies out per hour")
    every = max(1, len(labels) // 8) if per_day else 1
    return charts.bars(title, labels, [(_("Buyer messages"), "series-in", [s[0] for s in slots]),
                                       (_("Seller messages"), "series-out", [s[1] for s in slots])],
                       tick_every=every)


def _response_chart(period: reports.Period, daily: list[dict]) -> charts.Chart:
    by_day = {row["day"]: row for row in daily}
    days, moment = [], period.start
    while moment < period.end:
        days.append(moment.strftime("%Y-%m-%d"))
        moment += timedelta(days=1)
    labels = [datetime.strptime(d, "%Y-%m-%d").strftime("%d.%m") for d in days]

    longest = max((row["p90_seconds"] or 0 for row in daily), default=0)
    # The axis in hours once waits run past two hours, in minutes below: short tick labels.
    unit, label = (3600, lambda v: _("%(hours)s h", hours=f"{v:g}")) if longest > 7200 else \
        (60, lambda v: _("%(minutes)s min", minutes=f"{v:g}"))

    def scaled(key):
        return [None if by_day.get(d, {}).get(key) is None else by_day[d][key] / unit for d in days]

    return charts.lines(_("First response per day"), labels,
                        [(_("Median"), "series-median", scaled("median_seconds")),
                         (_("90th percentile"), "series-p90", scaled("p90_seconds"))],
                        y_label=label, tick_every=max(1, len(days) // 8))


@bp.get("/reports")
@admin_only
def reports_page():
    period = _period(request.args)
    targets = runtime.get().settings.response_targets
    scope = current_scope()
    with request_reader() as session:
        report = reports.report(session, period, targets, scope=scope)
        sellers = list_sellers(session, scope=scope)
    return render_template(
        "inbox/reports.html", report=report, sellers=sellers, duration=duration,
        first=period.start.date().isoformat(), last=(period.end - timedelta(days=1)).date().isoformat(),
        charts=[_response_chart(period, report["days"]), _traffic_chart(period, report["hours"])])
