"""One line per failure, and the exit status that tells a script whether to try again."""
from __future__ import annotations

import functools
import logging
import sys
import traceback

import click
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from chatcenter import runtime
from chatcenter.failures import is_transient

EX_TEMPFAIL = 75  # sysexits.h: try again later

log = logging.getLogger("chatcenter.cli")


class CommandFailed(click.ClickException):
    """A failure the command explains itself."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.exit_code = EX_TEMPFAIL if transient else 1

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def explain(exc: BaseException) -> CommandFailed:
    """The operator's line for an exception a command did not expect to explain."""
    settings = runtime.get().settings
    if isinstance(exc, RedisError):
        return CommandFailed(f"cannot reach Redis at {_without_password(settings.redis_url)} "
                             f"({type(exc).__name__}): is it running? check REDIS_URL", transient=True)
    if isinstance(exc, SQLAlchemyError):
        return CommandFailed(f"database error at {_without_password(settings.database_url)} "
                             f"({type(exc).__name__}): is it running and upgraded (`flask db upgrade`)? "
                             "check DATABASE_URL", transient=True)
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
