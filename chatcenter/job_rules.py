"""The rules every job runs under, applied here once rather than inside each job.

1. Buyer values a previous job registered for masking are forgotten.
2. One run per job id at a time (a lease named after the id, kept by a heartbeat):
   a second run finds it held and does nothing, saying so in its result.
3. An exception marked permanent (`transient = False`) ends the job's retries, so a bad
   token or a missing row fails at once and Sentry hears of it once.

The worker applies them through RuledWorker; `flask ... --now` through run_now().
work_until_stopped() keeps a worker alive through a Redis outage.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker, Worker
from rq.exceptions import StopRequested
from rq.job import Job

from chatcenter.job_attempts import note_failure
from chatcenter.leases import exclusive
from chatcenter.observability import job_sentry, scrubber

log = logging.getLogger("chatcenter.jobs")


def skipped(job_id: str) -> dict:
    return {"skipped": f"another run of {job_id} is in progress"}


def run_ruled(redis, job_id: str, call: Callable[[], Any]) -> Any:
    scrubber.clear_personal()
    with exclusive(redis, job_id) as lease:
        if lease is None:
            log.info("%s: another run holds it; this one does nothing", job_id)
            return skipped(job_id)
        return call()


def run_now(redis, job_id: str, func: Callable, *args) -> Any:
    """Run a job function in this process under the same rules as in a worker."""
    return run_ruled(redis, job_id, lambda: func(*args))


class RuledJob(Job):
    def perform(self) -> Any:
        return run_ruled(self.connection, self.id, super().perform)


def is_permanent(exc: BaseException | None) -> bool:
    # Only exceptions that say so: an unexpected error (a bug, a database hiccup) may
    # well pass on the next attempt.
    return exc is not None and getattr(exc, "transient", None) is False


class JobRules:
    """Mixed into an RQ worker class: its jobs run under the rules above."""

    job_class = RuledJob

    def perform_job(self, job: Job, queue, *args, **kwargs) -> bool:
        # An untraced job skips Sentry's per-job wrapper: it would cost more than it gives.
        return job_sentry.perform_job(self, job, queue, super().perform_job, *args, **kwargs)

    def handle_exception(self, job: Job, *exc_info):
        # Before the base method: sentry-sdk's RqIntegration decides there whether this
        # is the final failure (no retries left) and the one to report.
        if is_permanent(exc_info[1]):
            job.retries_left = 0
        note_failure(job, exc_info[1])  # saved with the job when RQ schedules its retry
        return super().handle_exception(job, *exc_info)


class RuledWorker(JobRules, Worker):
    """Forks a work-horse per job (production)."""


class RuledSimpleWorker(JobRules, SimpleWorker):
    """Runs jobs in its own process (`worker.py --simple`, tests)."""


REDIS_WAIT_MAX = 10.0  # seconds between looks at a Redis that is away


def work_until_stopped(make_worker: Callable[[], Worker], redis: Redis, *, burst: bool = False,
                       **work_options) -> None:
    """Run RQ's work loop until asked to stop (SIGTERM/SIGINT) or, with `burst`, until the
    queues are empty.

    RQ quits its loop on a Redis error outside the wait for a job (bookkeeping after a
    job, maintenance, registering the worker's death), so a Redis restart would end the
    worker for good. Here the loop waits for Redis to answer again and resumes with a fresh
    worker; the job that was running is cleared by the enqueue check once its lease lapses.
    """
    while True:
        worker = make_worker()
        try:
            worker.work(burst=burst, **work_options)
        except RedisError as exc:  # raised by RQ's teardown, after it left its loop
            log.error("worker %s stopped on a Redis error (%s)", worker.name, type(exc).__name__)
        except StopRequested:
            return
        if burst or worker._shutdown_requested_date is not None:  # emptied, or asked to stop
            return
        try:
            _wait_for_redis(redis)
        except StopRequested:  # SIGTERM while waiting: RQ's handler is still installed
            return
        log.warning("resuming work: Redis answers again")


def _wait_for_redis(redis: Redis) -> None:
    wait, said = 1.0, False
    while True:
        try:
            redis.ping()
            return
        except RedisError as exc:
            if not said:
                log.error("Redis is unreachable (%s); waiting for it to come back", type(exc).__name__)
                said = True
        time.sleep(wait)
        wait = min(wait * 2, REDIS_WAIT_MAX)
