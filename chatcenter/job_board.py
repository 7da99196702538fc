"""The jobs as people who run the service see them: how deep each queue is, what is running
and for how long, what failed for good and why; a failed job retried or discarded.

Read from RQ's own registries through their public API (counts, job ids, `Job.fetch_many`,
`FailedJobRegistry.requeue` / `remove`). Shared by /metrics, the API and the Jobs page.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job

from chatcenter.contract import ID_MAX
from chatcenter.errors import BadInput, Conflict, NotFound
from chatcenter.queries import public_reason
from chatcenter.queues import QUEUE_NAMES, QueueUnavailable, fetch_job, kind_of, queue

STATES = ("queued", "scheduled", "started", "failed")
SUBJECTS = {"sync": "seller_id", "analysis": "chat_id", "reply": "reply_id"}
# How many of a registry's newest entries a listing looks at: a week of failures can hold
# thousands, and nobody pages through more than this on a screen.
SCAN_MAX = 1000


class JobNotFound(NotFound):
    def __init__(self, job_id: str):
        shown = job_id if len(job_id) <= 100 else job_id[:100] + "…"
        super().__init__(f"job {shown} does not exist (unknown, expired, or not one of this service's jobs)")


class JobNotFailed(Conflict):
    def __init__(self, job_id: str, state: str):
        super().__init__(f"job {job_id} is {state}, not failed: only a failed job can be retried or discarded")


def _count(q: Queue, state: str) -> int:
    return q.count if state == "queued" else _registry(q, state).get_job_count(cleanup=False)


def _registry(q: Queue, state: str):
    return {"scheduled": q.scheduled_job_registry, "started": q.started_job_registry,
            "failed": q.failed_job_registry}[state]


def depths(redis: Redis) -> dict[str, dict[str, int]]:
    """{queue: {state: jobs}} for every queue of ours."""
    try:
        return {name: {state: _count(queue(redis, name), state) for state in STATES} for name in QUEUE_NAMES}
    except RedisError as exc:
        raise QueueUnavailable(exc) from None


@dataclass(frozen=True)
class JobPage:
    jobs: list[dict]
    next_cursor: str | None


def list_jobs(redis: Redis, state: str, queue_name: str | None = None, *, limit: int = 50,
              cursor: str | None = None, now: datetime | None = None,
              keep: Callable[[list[dict]], list[dict]] | None = None) -> JobPage:
    """The jobs in `state` (newest first: by when they failed, started, were enqueued or are
    due), in one queue or all. `cursor` is the last job of the previous page: jobs that
    arrive meanwhile are newer and never push an old one onto the next page twice. `keep`
    narrows the views before they are paged (chatcenter.scope.visible_jobs)."""
    if state not in STATES:
        raise BadInput("state", f"must be one of {', '.join(STATES)}")
    names = [queue_name] if queue_name else list(QUEUE_NAMES)
    now = now or datetime.now(timezone.utc)
    try:
        ids = []
        for name in names:
            q = queue(redis, name)
            ids += (q.get_job_ids(0, SCAN_MAX) if state == "queued"
                    else _registry(q, state).get_job_ids(0, SCAN_MAX - 1, desc=True, cleanup=False))
        jobs = [job for job in Job.fetch_many(ids, connection=redis) if job is not None]
        views = sorted((summary(job, state, now) for job in jobs), key=_order, reverse=True)
    except RedisError as exc:
        raise QueueUnavailable(exc) from None
    if keep is not None:
        views = keep(views)
    if cursor:
        views = [view for view in views if _order(view) < _parse_cursor(cursor)]
    page = views[:limit]
    more = len(views) > limit
    return JobPage(page, _cursor_of(page[-1]) if more and page else None)


def summary(job: Job, state: str, now: datetime) -> dict:
    kind = kind_of(job.id)
    name = kind.queue if kind else (job.func_name or "job").rsplit(".", 1)[-1]
    view = {"id": job.id, "queue": (job.origin or "").rsplit(":", 1)[-1], "kind": name, "state": state,
            "subject": None, "enqueued_at": _iso(job.enqueued_at), "started_at": _iso(job.started_at),
            "ended_at": _iso(job.ended_at), "age_seconds": None, "reason": None,
            "retries_left": job.retries_left}
    view["subject"] = subject_of(job.id)
    since = job.started_at if state == "started" else job.enqueued_at
    if since is not None:
        view["age_seconds"] = max(0, round((now - _aware(since)).total_seconds()))
    if state == "failed":
        result = job.latest_result()
        view["reason"] = public_reason(result.exc_string if result else "")
    return view


def subject_of(job_id: str) -> dict | None:
    """What a job of ours is about, from its id: {"seller_id": N}, {"chat_id": N} or
    {"reply_id": N}; None for another job (or an id past what the database holds)."""
    kind = kind_of(job_id)
    if kind is None:
        return None
    subject_id = int(job_id.rsplit("-", 1)[1])
    return {SUBJECTS[kind.queue]: subject_id} if subject_id <= ID_MAX else None


def retry(redis: Redis, job_id: str) -> Job:
    """A failed job goes back on its queue, to run again as it was enqueued."""
    job, q = _failed(redis, job_id)
    try:
        return q.failed_job_registry.requeue(job)
    except RedisError as exc:
        raise QueueUnavailable(exc) from None


def discard(redis: Redis, job_id: str) -> None:
    """A failed job is forgotten: its record and its place in the failed registry."""
    job, q = _failed(redis, job_id)
    try:
        q.failed_job_registry.remove(job, delete_job=True)
    except RedisError as exc:
        raise QueueUnavailable(exc) from None


def _failed(redis: Redis, job_id: str) -> tuple[Job, Queue]:
    job = fetch_job(redis, job_id)
    if job is None or not job.origin:
        raise JobNotFound(job_id)
    q = Queue(job.origin, connection=redis)
    try:
        failed = job.id in q.failed_job_registry
        status = job.get_status(refresh=False).value
    except RedisError as exc:
        raise QueueUnavailable(exc) from None
    if not failed:
        raise JobNotFailed(job.id, status)
    return job, q


def _order(view: dict) -> tuple[str, str]:
    when = view["ended_at"] if view["state"] == "failed" else (
        view["started_at"] if view["state"] == "started" else view["enqueued_at"])
    return (when or "", view["id"])


def _cursor_of(view: dict) -> str:
    when, job_id = _order(view)
    return f"{when}|{job_id}"


def _parse_cursor(cursor: str) -> tuple[str, str]:
    when, sep, job_id = cursor.partition("|")
    if not sep or not job_id:
        raise BadInput("cursor", "is not one this listing gave; start from the first page")
    return when, job_id


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else _aware(value).isoformat().replace("+00:00", "Z")
