"""RQ queues and the enqueue helpers: stable ids, timeouts, retries, one job per subject.

Job arguments are ids only (never tokens or texts): RQ stores them in Redis and puts them
into its job description.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.exceptions import NoSuchJobError

log = logging.getLogger("chatcenter.queues")

SYNC, ANALYSIS, DEFAULT = "sync", "analysis", "default"
QUEUE_NAMES = (SYNC, ANALYSIS, DEFAULT)

# States in which a job still has work ahead of it: asking again must not add a second one.
PENDING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}



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


def queue(redis: Redis, name: str) -> Queue:
    return Queue(name, connection=redis)


def enqueue_unique(redis: Redis, queue_name: str, func: str, job_id: str, *args,
                   timeout: int = 600, retry: Retry | None = None) -> Enqueued:
    """Enqueue `func(*args)` under `job_id` unless a job with that id is still pending.

    A short Redis lock makes the check-then-enqueue atomic across processes and machines.
    """
    with redis.lock(f"chatcenter:enqueue-lock:{job_id}", timeout=10, blocking_timeout=5):
        try:
            status = Job.fetch(job_id, connection=redis).get_status(refresh=False)
        except NoSuchJobError:
            status = None
        if status in PENDING:
            log.info("job %s already %s; not enqueued again", job_id, status.value)
            return Enqueued(job_id, created=False)
        queue(redis, queue_name).enqueue(
            func, *args, job_id=job_id, job_timeout=timeout, retry=retry,
            result_ttl=3600, failure_ttl=7 * 24 * 3600,
            description=func.rsplit(".", 1)[-1],  # no arguments in RQ's description
        )
        log.info("enqueued %s as job %s", func, job_id)
        return Enqueued(job_id, created=True)


def sync_job_id(seller_id: int) -> str:
    return f"sync-seller-{seller_id}"


def analysis_job_id(chat_id: int) -> str:
    return f"analyze-chat-{chat_id}"


def enqueue_sync(runtime, seller_id: int) -> Enqueued:
    return enqueue_unique(runtime.redis, SYNC, "jobs.sync.sync_seller_chats", sync_job_id(seller_id),
                          seller_id, timeout=1800, retry=transient_retry(runtime.settings.job_retry_delays))


def enqueue_analysis(runtime, chat_id: int) -> Enqueued:
    return enqueue_unique(runtime.redis, ANALYSIS, "jobs.analysis.analyze_chat_with_ai", analysis_job_id(chat_id),
                          chat_id, timeout=300, retry=transient_retry(runtime.settings.job_retry_delays))
