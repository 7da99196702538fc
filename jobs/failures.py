"""How a job fails: transient faults retry (RQ Retry), permanent ones fail at once."""
from __future__ import annotations

from rq import get_current_job


class PermanentJobError(Exception):
    """Retrying cannot help (bad token, bad configuration, missing row): fail now."""


def no_more_retries() -> None:
    """Make the current RQ job's next failure final, so Sentry hears of it once, now."""
    job = get_current_job()
    if job is not None:
        job.retries_left = 0
