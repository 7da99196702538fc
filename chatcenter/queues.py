"""RQ queues and enqueueing: prefixed names, stable job ids, one pending job per subject.

Job arguments are ids only (never tokens or texts): RQ stores them in Redis and shows
them in its job description.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from rq.utils import now

from chatcenter.config import REDIS_PREFIX
from chatcenter.errors import Unavailable
from chatcenter.leases import is_held

log = logging.getLogger("chatcenter.queues")

SYNC, ANALYSIS, REPLY, ATTACHMENTS, DEFAULT = "sync", "analysis", "reply", "attachments", "default"
QUEUE_NAMES = (SYNC, ANALYSIS, REPLY, ATTACHMENTS, DEFAULT)

# States in which a job still has work ahead of it: asking again must not add a second one.
PENDING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
START_GRACE = 2.0  # seconds a just-started job may run before its lease is looked for


class QueueUnavailable(Unavailable):
    """Redis (the job queue) cannot be reached; the request can be made again later."""

    def __init__(self, cause: BaseException):
        super().__init__("The job queue is unavailable; try again in a few seconds")
        self.cause_name = type(cause).__name__

    def __str__(self) -> str:  # what the CLI and a seller's last error say: names the cause
        return f"the job queue (Redis) is unavailable: {self.cause_name}; try again shortly"


def queue_key(name: str) -> str:
    """`sync` -> `chatcenter:sync`: our queues never mix with another app's on one Redis."""
    return name if name.startswith(REDIS_PREFIX) else REDIS_PREFIX + name


def queue(redis: Redis, name: str) -> Queue:
    return Queue(queue_key(name), connection=redis)


def transient_retry(delays: tuple[int, ...]) -> Retry | None:
    """Transient faults (WB/DeepSeek 429 or 5xx, timeouts) get one more attempt per delay."""
    return Retry(max=len(delays), interval=list(delays)) if delays else None


@dataclass(frozen=True)
class Enqueued:
    job_id: str
    created: bool  # False: an identical job was already queued or running

    @property
    def message(self) -> str:
        if self.created:
            return f"enqueued job {self.job_id}"
        return f"job {self.job_id} is already queued or running; nothing new enqueued"


@dataclass(frozen=True)
class JobKind:
    """One kind of job: its function, queue, id format and limits."""

    func: str
    queue: str
    id_prefix: str
    timeout: int
    longest_retry: int | None = None  # seconds: no retry of this kind waits longer

    def job_id(self, subject_id: int) -> str:
        return f"{self.id_prefix}-{subject_id}"

    def retry_delays(self, delays: tuple[int, ...]) -> tuple[int, ...]:
        return delays if self.longest_retry is None else tuple(min(d, self.longest_retry) for d in delays)

    def owns(self, job_id: str) -> bool:
        rest = job_id.removeprefix(self.id_prefix + "-")
        # ASCII digits only: "²".isdigit() is true, and RQ refuses such an id with a ValueError.
        return rest != job_id and rest.isascii() and rest.isdigit()


# A sync waiting for its retry holds the seller's polls: a transient fault never holds a
# seller off longer than a minute (the poller's own backoff has the same cap).
SYNC_JOB = JobKind("jobs.sync.sync_seller_chats", SYNC, "sync-seller", timeout=1800, longest_retry=60)
ANALYSIS_JOB = JobKind("jobs.analysis.analyze_chat_with_ai", ANALYSIS, "analyze-chat", timeout=300)
REPLY_JOB = JobKind("jobs.reply.send_reply", REPLY, "reply", timeout=120)
# One job per message with files: its files are fetched from WB once, in turn.
ATTACHMENTS_JOB = JobKind("jobs.attachments.fetch_attachments", ATTACHMENTS, "fetch-attachments", timeout=300)
JOB_KINDS = (SYNC_JOB, ANALYSIS_JOB, REPLY_JOB, ATTACHMENTS_JOB)


def kind_of(job_id: str) -> JobKind | None:
    return next((kind for kind in JOB_KINDS if kind.owns(job_id)), None)


def enqueue(redis: Redis, kind: JobKind, subject_id: int, retry_delays: tuple[int, ...],
            options: dict | None = None) -> Enqueued:
    """Enqueue `kind` for `subject_id` unless such a job is still pending.

    A short Redis lock makes check-then-enqueue atomic across processes and machines.
    A job left "started" by a worker that died (its lease expired) is not pending: it is
    cleared and enqueued anew, so a crash costs a subject seconds, not RQ's ~10 minutes.
    `options`: keyword arguments of the job function (flags, never texts or secrets).
    """
    job_id = kind.job_id(subject_id)
    try:
        with redis.lock(f"{REDIS_PREFIX}enqueue-lock:{job_id}", timeout=10, blocking_timeout=5):
            job = _fetch(redis, job_id)
            status = job.get_status(refresh=False) if job is not None else None
            if status == JobStatus.STARTED and _is_dead_run(redis, job):
                log.warning("job %s was left started by a worker that is gone; enqueueing it anew", job_id)
                _forget_dead_run(redis, kind, job)
            elif status in PENDING:
                log.info("job %s already %s; not enqueued again", job_id, status.value)
                return Enqueued(job_id, created=False)
            queue(redis, kind.queue).enqueue(
                kind.func, args=(subject_id,), kwargs=options or {}, job_id=job_id, job_timeout=kind.timeout,
                retry=transient_retry(kind.retry_delays(retry_delays)), result_ttl=3600, failure_ttl=7 * 24 * 3600,
                description=kind.func,  # RQ's default is the call with its arguments
            )
    except RedisError as exc:
        raise QueueUnavailable(exc) from None
    log.info("enqueued %s as job %s", kind.func, job_id)
    return Enqueued(job_id, created=True)


def retry_time(redis: Redis, job: Job) -> datetime | None:
    """When a job waiting for its retry is due (None: not scheduled, or Redis lost it)."""
    try:
        return ScheduledJobRegistry(job.origin, connection=redis).get_scheduled_time(job)
    except NoSuchJobError:
        return None


def _fetch(redis: Redis, job_id: str) -> Job | None:
    try:
        return Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return None


def _is_dead_run(redis: Redis, job: Job) -> bool:
    """Started, yet no run holds its lease: its worker died (the heartbeat stopped).

    A run takes its lease the moment it starts; the grace covers that instant, so a job
    that has only just started is never taken for a dead one.
    """
    if is_held(redis, job.id):
        return False
    started = job.started_at
    return started is None or (now() - started).total_seconds() > START_GRACE


def recover_dead_runs(redis: Redis, retry_delays: tuple[int, ...]) -> list[str]:
    """Enqueue anew every job of ours left "started" by a worker that died.

    The enqueue check does this when someone asks for the same job again; this covers jobs
    nobody asks for twice (a reply), and is run by the periodic fan-out. Each job decides on
    its re-run itself (a reply found "sending" is not sent again). Returns the job ids.
    """
    recovered = []
    try:
        for kind in JOB_KINDS:
            # cleanup=False: RQ's own cleanup would fail or retry them its way, minutes late.
            job_ids = set(queue(redis, kind.queue).started_job_registry.get_job_ids(cleanup=False))
            for job_id in sorted(job_ids):
                job = _fetch(redis, job_id) if kind.owns(job_id) else None
                if job is None or not _is_dead_run(redis, job):
                    continue
                if enqueue(redis, kind, int(job_id.rsplit("-", 1)[1]), retry_delays).created:
                    recovered.append(job_id)
    except RedisError as exc:
        raise QueueUnavailable(exc) from None
    return recovered


def _forget_dead_run(redis: Redis, kind: JobKind, job: Job) -> None:
    # Its started-registry entries (one per execution) must go too: RQ's cleanup would
    # otherwise later take the new run of the same id for the abandoned one.
    queue(redis, kind.queue).started_job_registry.remove_executions(job)


def fetch_job(redis: Redis, job_id: str) -> Job | None:
    """One of this project's jobs by id, or None (unknown ids and other apps' jobs)."""
    if kind_of(job_id) is None:
        return None
    try:
        return Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return None
    except RedisError as exc:
        raise QueueUnavailable(exc) from None
