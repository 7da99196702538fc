"""Reports: response times per seller and operator for a period (chatcenter/reports.py, as the
inbox's Reports page)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint

from chatcenter import reports, runtime
from chatcenter.contract import ResponseTimes
from chatcenter.errors import BadInput
from chatcenter.web.api.inputs import ReportQuery
from chatcenter.web.api.openapi import READS, answers, spec
from chatcenter.web.reads import request_reader
from chatcenter.web.scope import current_scope

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/response-times")
@spec.validate(resp=answers((200, ResponseTimes, "The report"), *READS), tags=["reports"])
def response_times(query: ReportQuery):
    """First-response times per seller and operator, and per day and hour, for a period

    A first response is the seller message that ends a buyer's wait. Median and 90th percentile are
    nearest-rank; `within_target` is the share answered within the target for the chat's urgency when it was
    answered. The period defaults to the last 7 days and may be 92 days at most.
    """
    end = query.to or datetime.now(timezone.utc)
    try:
        start = query.from_ or end - reports.DEFAULT_PERIOD
    except OverflowError:  # `to` in the first week of year 1
        raise BadInput("to", "is too early for a period before it") from None
    period = reports.Period(start, end, query.seller_id)
    targets = runtime.get().settings.response_targets
    scope = current_scope()  # a key limited to some sellers: their figures only
    with request_reader() as session:
        return reports.report(session, period, targets, scope=scope)
