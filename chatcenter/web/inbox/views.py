"""The inbox's views (tabs above the list): which chats each shows and in what order.

Each is a set of ChatFilter fields, the same filters the API takes (`status`, `assignee_id`,
`awaiting_reply`), so a view is one of the queries tests/test_query_plans.py checks.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from chatcenter.models import ChatStatus
from chatcenter.errors import BadInput
from chatcenter.queries import UNASSIGNED

OPEN, SNOOZED, RESOLVED = (ChatStatus.OPEN,), (ChatStatus.SNOOZED,), (ChatStatus.RESOLVED,)
ME = object()  # the signed-in operator


@dataclass(frozen=True)
class View:
    label: object
    statuses: tuple[str, ...] | None = None
    awaiting_reply: bool | None = None
    assignee: object = None  # ME, UNASSIGNED or None
    order: str = "queue"  # awaiting first by urgency and wait, then the rest (the inbox's triage)


VIEWS = {
    "needs_reply": View(_l("Needs reply"), OPEN, awaiting_reply=True),
    "mine": View(_l("Mine"), OPEN, assignee=ME),
    "unassigned": View(_l("Unassigned"), OPEN, assignee=UNASSIGNED),
    "snoozed": View(_l("Snoozed"), SNOOZED, order="activity"),
    "resolved": View(_l("Resolved"), RESOLVED, order="activity"),
    "all": View(_l("All")),
}
DEFAULT_VIEW = "needs_reply"


def view_named(name: str) -> tuple[str, View]:
    name = name or DEFAULT_VIEW
    if name not in VIEWS:
        raise BadInput("view", f"must be one of {', '.join(VIEWS)}")
    return name, VIEWS[name]


def view_filters(view: View, operator_id: int) -> dict:
    """The view's ChatFilter fields for this operator."""
    return {"statuses": view.statuses, "awaiting_reply": view.awaiting_reply,
            "assignee_id": operator_id if view.assignee is ME else view.assignee}
