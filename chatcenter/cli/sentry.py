"""`flask sentry-check`: does Sentry accept events from here and from a worker?"""
from __future__ import annotations

import time
import uuid
from dataclasses import fields
from urllib.parse import urlsplit

import click
from flask.cli import with_appcontext

from chatcenter import runtime
from chatcenter.cli.one_line import one_line_errors
from chatcenter.observability.sentry_check import CHECK_JOB, SEND_TIMEOUT, Outcome, send_test_event
from chatcenter.queues import DEFAULT, queue

POLL_SECONDS = 0.2


def server_of(dsn: str) -> str:
    """scheme://host[:port] and project of a DSN, never its key."""
    parts = urlsplit(dsn)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port} (project {parts.path.rstrip('/').rsplit('/', 1)[-1]})"


@click.command("sentry-check", help="Send a test error to Sentry from here and from a worker job; "
                                    "say whether Sentry accepted each. Exit 1 if either was not accepted.")
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.5),
              help="seconds to wait for a worker to pick up the test job")
@with_appcontext
@one_line_errors
def sentry_check_command(timeout: float) -> None:
    resources = runtime.get()
    settings = resources.settings
    if not settings.sentry_enabled:
        click.echo("Sentry is off: SENTRY_DSN is empty, so nothing is sent (no check needed).")
        return
    check_id = uuid.uuid4().hex
    click.echo(f"Sentry server: {server_of(settings.sentry_dsn)}, environment: {settings.sentry_environment}")
    click.echo(f"check id: {check_id} (the events carry the tag sentry_check={check_id})")

    here = send_test_event("command line", check_id)
    click.echo(f"command line: {here.describe()}")
    worker = check_through_worker(resources.redis, check_id, timeout)
    click.echo(f"worker: {worker.describe()}")
    if worker.environment and worker.environment != here.environment:
        click.echo(f"note: the worker reports environment {worker.environment!r}, "
                   f"this process {here.environment!r}: do they read the same .env?")

    if here.accepted and worker.accepted:
        click.echo("OK: Sentry accepted both test events; look for 'chatcenter sentry-check' among the issues.")
        return
    click.echo("FAILED: see the lines above; the README's Production section has a troubleshooting table.", err=True)
    click.get_current_context().exit(1)


def check_through_worker(redis, check_id: str, pickup_timeout: float) -> Outcome:
    """Enqueue the check job and wait, bounded, for a worker to run it."""
    from rq.job import JobStatus

    try:
        job = queue(redis, DEFAULT).enqueue(
            CHECK_JOB, check_id, job_id=f"sentry-check-{check_id}", description="sentry_check",
            job_timeout=int(SEND_TIMEOUT * 2), ttl=max(1, int(pickup_timeout) + 5),
            result_ttl=600, failure_ttl=24 * 3600)
    except Exception as exc:  # Redis down or refusing: the URL may hold a password, not shown
        return Outcome(error=f"could not enqueue the test job: Redis error {type(exc).__name__}")
    try:
        deadline = time.monotonic() + pickup_timeout
        while (status := job.get_status()) in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            if time.monotonic() >= deadline:
                job.delete()  # not to run later, long after the operator gave up
                return Outcome(error=f"no worker picked up the test job within {pickup_timeout:g} s (is "
                                     f"`python worker.py` running for queue '{DEFAULT}' on this Redis?)")
            time.sleep(POLL_SECONDS)
        deadline = time.monotonic() + SEND_TIMEOUT * 2 + 5
        while status == JobStatus.STARTED and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            status = job.get_status()
        if status == JobStatus.FINISHED:
            result = job.return_value() or {}
            return Outcome(**{f.name: result.get(f.name) for f in fields(Outcome)})
        if status == JobStatus.FAILED:
            result = job.latest_result()
            last = ((result.exc_string if result else None) or "no details").strip().splitlines()[-1]
            return Outcome(error=f"the test job failed in the worker: {last[:200]}")
        return Outcome(error=f"the test job did not finish in time (status: {status})")
    except Exception as exc:  # Redis went away while waiting
        return Outcome(error=f"lost Redis while waiting for the test job: {type(exc).__name__}")
