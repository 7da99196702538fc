"""What the poller process tells Sentry: one Crons check-in a minute, and a failed pass.

The poller's loop (chatcenter/poller/loop.py) does not know Sentry: its process entry
hands it these two functions as hooks. Both do nothing when Sentry is off.
"""
from __future__ import annotations

import math

from chatcenter.observability.sentry import active_sdk

MONITOR_SLUG = "chatcenter-sync-all-sellers"
# One check-in per this many seconds (Crons counts in minutes).
MONITOR_EVERY = 60.0


def monitor_config() -> dict:  # checkin_margin: minutes late before Sentry calls it missed
    return {"schedule": {"type": "interval", "value": max(1, math.ceil(MONITOR_EVERY / 60)), "unit": "minute"},
            "checkin_margin": 1, "max_runtime": 10, "failure_issue_threshold": 1}


def check_in(ok: bool) -> None:
    """One check-in per poller process, never per seller (with several pollers, the monitor is
    missed only when none is alive); nothing when Sentry is off."""
    sdk = active_sdk()
    if sdk is None:
        return
    from sentry_sdk.crons import MonitorStatus, capture_checkin

    capture_checkin(monitor_slug=MONITOR_SLUG, status=MonitorStatus.OK if ok else MonitorStatus.ERROR,
                    monitor_config=monitor_config())


def report_failed_pass(exc: BaseException) -> None:
    if (sdk := active_sdk()) is not None:
        sdk.capture_exception(exc)
