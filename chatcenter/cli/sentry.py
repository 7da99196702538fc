"""`flask sentry-check`: does Sentry accept events from here and from a worker?"""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import click
from flask.cli import with_appcontext

from chatcenter import runtime
from chatcenter.cli.failures import one_line_errors
from chatcenter.observability.sentry_check import check_through_worker, send_test_event


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
