"""What a process says when the database or Redis cannot be reached: one line, URL without
its password. The worker and cron check both before they start (a worker that starts
against a dead database would fail every job); the CLI words its failures the same way.
"""
from __future__ import annotations

from chatcenter.config import public_url
from chatcenter.runtime import Resources


class Unreachable(SystemExit):
    """A dependency did not answer at start; its message is the operator's one line."""


def database_unreachable(url: str, exc: BaseException) -> str:
    return (f"cannot reach the database at {public_url(url)} ({type(exc).__name__}): "
            "is it running? check DATABASE_URL")


def redis_unreachable(url: str, exc: BaseException) -> str:
    return f"cannot reach Redis at {public_url(url)} ({type(exc).__name__}): is it running? check REDIS_URL"


def database_answers(resources: Resources) -> BaseException | None:
    """None when the database answers a query; the exception otherwise."""
    try:
        resources.db.ping()
    except Exception as exc:  # any failure to connect counts; its class names it
        return exc
    return None


def redis_answers(resources: Resources) -> BaseException | None:
    try:
        resources.redis.ping()
    except Exception as exc:
        return exc
    return None


def require_dependencies(resources: Resources) -> None:
    """Raise Unreachable (exit status 1, one line on stderr) unless both answer."""
    settings = resources.settings
    problem = database_answers(resources)
    if problem is not None:
        raise Unreachable(f"error: {database_unreachable(settings.database_url, problem)}")
    problem = redis_answers(resources)
    if problem is not None:
        raise Unreachable(f"error: {redis_unreachable(settings.redis_url, problem)}")
