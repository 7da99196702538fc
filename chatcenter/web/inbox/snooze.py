"""The chat page's snooze choices, as moments in the operator's time zone: in an hour,
tomorrow at 09:00, next Monday at 09:00, or a date and time they pick."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from flask_babel import get_timezone, lazy_gettext as _l

from chatcenter.errors import BadInput
from chatcenter.models import utcnow

MORNING = time(9, 0)
CHOICES = {"1h": _l("For 1 hour"), "tomorrow": _l("Until tomorrow 09:00"), "next_week": _l("Until next Monday 09:00"),
           "until": _l("Until the date and time below")}


def _local(day, at: time, zone) -> datetime:
    naive = datetime.combine(day, at)
    return zone.localize(naive) if hasattr(zone, "localize") else naive.replace(tzinfo=zone)  # pytz or zoneinfo


def snooze_until(choice: str, picked: str = "", now: datetime | None = None) -> datetime:
    """The moment a choice means (UTC); BadInput naming the field when it means none."""
    now = now or utcnow()
    zone = get_timezone()
    today = now.astimezone(zone).date()
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "tomorrow":
        moment = _local(today + timedelta(days=1), MORNING, zone)
    elif choice == "next_week":
        moment = _local(today + timedelta(days=7 - today.weekday()), MORNING, zone)
    elif choice == "until":
        try:  # <input type="datetime-local">: "2026-12-08T14:30", in the operator's zone
            naive = datetime.fromisoformat(picked.strip())
        except ValueError:
            raise BadInput("until", "choose a date and time") from None
        if naive.tzinfo is not None:
            raise BadInput("until", "choose a date and time")
        moment = _local(naive.date(), naive.time(), zone)
    else:
        raise BadInput("snooze", f"must be one of {', '.join(CHOICES)}")
    return moment.astimezone(timezone.utc)
