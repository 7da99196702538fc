"""One line per failure, and the exit status that tells a script whether to try again."""
from __future__ import annotations

import functools
import logging
import sys
import traceback

import click
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from chatcenter import runtime, startup
from chatcenter.failures import is_transient
from chatcenter.queues import QueueUnavailable

EX_TEMPFAIL = 75  # sysexits.h: try again later

log = logging.getLogger("chatcenter.cli")


class CommandFailed(click.ClickException):
    """A failure the command explains itself."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.exit_code = EX_TEMPFAIL if transient else 1

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


def explain(exc: BaseException) -> CommandFailed:
    """The operator's line for an exception a command did not expect to explain."""
    resources = runtime.get()
    settings = resources.settings
    if isinstance(exc, (RedisError, QueueUnavailable)):
        cause = exc if isinstance(exc, RedisError) else (exc.__context__ or exc)  # raised `from None`
        return CommandFailed(startup.redis_unreachable(settings.redis_url, cause), transient=True)
    if isinstance(exc, SQLAlchemyError):
        # A database that answers a plain query is reachable: the fault is the schema.
        if startup.database_answers(resources) is not None:
            return CommandFailed(startup.database_unreachable(settings.database_url, exc), transient=True)
        return CommandFailed(f"database error ({type(exc).__name__}) at {startup.public_url(settings.database_url)}: "
                             "is the schema up to date? run `flask db upgrade`")
    if hasattr(exc, "transient"):  # ours: the message is written for operators
        return CommandFailed(str(exc), transient=is_transient(exc))
    return CommandFailed(f"unexpected {type(exc).__name__}; run again with --verbose for the traceback")


def one_line_errors(command):
    """Give a command `--verbose` and turn any exception into one line and an exit status."""

    @click.option("--verbose", is_flag=True, help="show the traceback of a failure")
    @functools.wraps(command)
    def guarded(*args, verbose: bool = False, **kwargs):
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if verbose:
                traceback.print_exc(file=sys.stderr)
            raise explain(exc) from None

    return guarded
