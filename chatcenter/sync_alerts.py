"""Telling Sentry that a seller's WB events were set aside: once per seller and kind.

A feed with one broken event per page would otherwise send an event per page; the marker
in Redis keeps it to one a day per seller and kind. The log says each event by id.
"""
from __future__ import annotations

import logging

from redis.exceptions import RedisError

from chatcenter.config import REDIS_PREFIX
from chatcenter.observability.sentry import active_sdk

log = logging.getLogger("chatcenter.sync_alerts")

REPORT_EVERY = 24 * 3600  # seconds before the same seller and kind is reported again


def report_set_aside(redis, seller_id: int, kinds: dict[str, int]) -> int:
    """Report each kind not reported lately; return how many were reported (none
    without Sentry: the log has said each event already)."""
    sentry_sdk = active_sdk()  # never imported here: the worker loads this module when Sentry is off too
    if sentry_sdk is None:
        return 0
    reported = 0
    for kind, count in sorted(kinds.items()):
        try:
            first = redis.set(f"{REDIS_PREFIX}set-aside-reported:{seller_id}:{kind}", 1, nx=True, ex=REPORT_EVERY)
        except RedisError:
            first = True  # better a repeat in Sentry than silence
        if not first:
            continue
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = ["wb-event-set-aside", str(seller_id), kind]
            scope.set_tag("seller_id", seller_id)
            sentry_sdk.capture_message(f"WB events set aside for seller {seller_id}: {kind} ({count} in this run)",
                                       level="warning")
        reported += 1
    return reported
