"""Why a job's last attempt failed, kept with the job while it waits for its retry.

RQ records a failure only when no retry is left; until then a job waiting to try again
looks merely "scheduled", and the inbox said "Analysis in progress…" through a DeepSeek
outage. The worker notes each failed attempt's public reason in the job's meta (public
RQ API), and the job view shows it with the time of the next try.
"""
from __future__ import annotations

import traceback

from rq.job import Job

META_KEY = "last_failure"


def public_reason(exc_string: str | None) -> str:
    """The last line of a traceback, if the exception is ours (its message is written for
    operators and holds no secret); otherwise only the exception's class."""
    last = (exc_string or "").strip().splitlines()[-1:] or [""]
    where, _, message = last[0].partition(": ")
    module, _, name = where.rpartition(".")
    if module.startswith(("chatcenter.", "jobs.")) and message:
        return message[:500]
    return f"internal error ({name or where or 'unknown'}); see the worker log" if where else "no reason recorded"


def note_failure(job: Job, exc: BaseException | None) -> None:
    """Keep the public reason of this failed attempt on the job (saved with its retry)."""
    if exc is None:
        return
    job.meta[META_KEY] = public_reason("".join(traceback.format_exception_only(type(exc), exc)))


def last_failure(job: Job) -> str | None:
    reason = job.meta.get(META_KEY)
    return reason if isinstance(reason, str) else None
