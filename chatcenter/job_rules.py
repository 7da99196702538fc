"""The rules every job runs under, applied here once rather than inside each job.

1. One run per job id at a time (a lease named after the id, kept by a heartbeat):
   a second run finds it held and does nothing, saying so in its result.
2. An exception marked permanent (`transient = False`) ends the job's retries, so a bad
   token or a missing row fails at once and Sentry hears of it once.
3. An expected failure (one chatcenter.failures classifies: WB or DeepSeek refusing,
   Redis or a service away) is one line in the worker's log; RQ's traceback is kept for
   the failures nobody expected (bugs).

The worker applies them through RuledWorker; `flask ... --now` through run_now().
work_until_stopped() keeps a worker alive through a Redis outage.
"""
from __future__ import annotations

import contextvars
import logging
import time
from typing import Any, Callable

from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker, Worker
from rq.exceptions import StopRequested
from rq.job import Job

from chatcenter.config import REDIS_PREFIX
from chatcenter.failures import is_expected
from chatcenter.job_attempts import note_failure
from chatcenter.leases import exclusive
from chatcenter.metrics import Recorder

log = logging.getLogger("chatcenter.jobs")


def skipped(job_id: str) -> dict:
    return {"skipped": f"another run of {job_id} is in progress"}


def run_ruled(redis, job_id: str, call: Callable[[], Any]) -> Any:
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
        try:
            result = run_ruled(self.connection, self.id, super().perform)
        except BaseException as exc:
            retried = not is_permanent(exc) and bool(self.retries_left)
            self.record_outcome("retried" if retried else "failed")
            raise
        self.record_outcome("succeeded")
        return result

    def record_outcome(self, outcome: str) -> None:
        Recorder(self.connection).count("jobs", self.origin.removeprefix(REDIS_PREFIX), outcome)


def is_permanent(exc: BaseException | None) -> bool:
    # Only exceptions that say so: an unexpected error (a bug, a database hiccup) may
    # well pass on the next attempt.
    return exc is not None and getattr(exc, "transient", None) is False


# The job whose expected failure is being handled: RQ's traceback line for it is dropped.
_quiet_job: contextvars.ContextVar[str | None] = contextvars.ContextVar("quiet_job", default=None)


class QuietExpectedFailures(logging.Filter):
    """On RQ's worker logger: drops the ERROR record (the job's traceback) RQ logs for a
    failure JobRules.handle_exception has already told in one line. Matches on the
    `job_id` RQ gives that record, not on its wording."""

    def filter(self, record: logging.LogRecord) -> bool:
        quiet = _quiet_job.get()
        return not (quiet is not None and record.levelno >= logging.ERROR
                    and getattr(record, "job_id", None) == quiet)


def _outcome(job: Job, exc: BaseException) -> str:
    if is_permanent(exc):
        return "failed for good (permanent)"
    if job.retries_left:
        return f"will be tried again ({job.retries_left} attempt(s) left)"
    return "failed for good (no attempts left)"


class JobRules:
    """Mixed into an RQ worker class: its jobs run under the rules above."""

    job_class = RuledJob
    stop_requested = False

    def request_stop(self, signum, frame):
        self.stop_requested = True  # SIGTERM/SIGINT: work_until_stopped must not resume
        return super().request_stop(signum, frame)

    def handle_exception(self, job: Job, *exc_info):
        # Before the base method: sentry-sdk's RqIntegration decides there whether this
        # is the final failure (no retries left) and the one to report.
        exc = exc_info[1]
        if is_permanent(exc):
            job.retries_left = 0
        note_failure(job, exc_info[1])  # saved with the job when RQ schedules its retry
        if not is_expected(exc):
            return super().handle_exception(job, *exc_info)
        # Exception messages hold no buyer text (a rule of this code base): safe to log.
        log.warning("job %s %s: %s: %s", job.id, _outcome(job, exc), type(exc).__name__, exc)
        token = _quiet_job.set(job.id)
        try:
            return super().handle_exception(job, *exc_info)
        finally:
            _quiet_job.reset(token)


class RuledWorker(JobRules, Worker):
    """Forks a work-horse per job (production)."""


class RuledSimpleWorker(JobRules, SimpleWorker):
    """Runs jobs in its own process (`worker.py --simple`, tests)."""


REDIS_WAIT_MAX = 10.0  # seconds between looks at a Redis that is away
# RQ's retry scheduler runs in a process of its own; a worker notices it died (Redis at
# maxmemory kills it) at its maintenance pass: every 15 s here instead of RQ's 10 minutes.
# An idle worker passes by between waits for a job, which worker_ttl - 15 s bounds.
MAINTENANCE_SECONDS = 15
WORKER_TTL_SECONDS = 30
WORKER_OPTIONS = {"maintenance_interval": MAINTENANCE_SECONDS, "worker_ttl": WORKER_TTL_SECONDS}


def install_quiet_failures() -> None:
    """Once per worker process (idempotent)."""
    rq_log = logging.getLogger("rq.worker")
    if not any(isinstance(f, QuietExpectedFailures) for f in rq_log.filters):
        rq_log.addFilter(QuietExpectedFailures())


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
        if burst or getattr(worker, "stop_requested", False):  # emptied, or asked to stop
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
