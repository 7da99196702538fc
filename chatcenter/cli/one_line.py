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
from chatcenter.config import public_url
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
        # Worded like the API's 503 (the job queue), then what could not be reached.
        unreachable = startup.redis_unreachable(settings.redis_url, cause)
        return CommandFailed(f"the job queue (Redis) is unavailable: {unreachable}", transient=True)
    if isinstance(exc, SQLAlchemyError):
        # A database that answers a plain query is reachable: the fault is the schema.
        if startup.database_answers(resources) is not None:
            return CommandFailed(startup.database_unreachable(settings.database_url, exc), transient=True)
        return CommandFailed(f"database error ({type(exc).__name__}) at {public_url(settings.database_url)}: "
                             "is the schema up to date? run `flask db upgrade`")
    if hasattr(exc, "transient"):  # ours: the message is written for operators
        return CommandFailed(_with_advice(str(exc), exc), transient=is_transient(exc))
    return CommandFailed(f"unexpected {type(exc).__name__}; run again with --verbose for the traceback")


def _advice(exc: BaseException) -> str:
    from chatcenter.clients.deepseek import DeepSeekConfigError
    from chatcenter.clients.wb import WBAuthError

    if isinstance(exc, DeepSeekConfigError):
        return "check DEEPSEEK_API_KEY, DEEPSEEK_API_BASE_URL and the DeepSeek account"
    if isinstance(exc, WBAuthError):
        return "give the seller a new WB token: `flask sellers set-token ID`"
    return "try again later" if is_transient(exc) else ""


def _with_advice(message: str, exc: BaseException) -> str:
    """The exception's own words, then what to do (unless they already say it)."""
    advice = _advice(exc)
    return f"{message}: {advice}" if advice and advice not in message else message


def verbose_logging() -> None:
    """--verbose: the INFO lines a command's jobs write (to stderr) come back."""
    for name in ("", "chatcenter"):  # the root and ours (configure_logging sets both)
        logging.getLogger(name).setLevel(logging.INFO)


def one_line_errors(command):
    """Give a command `--verbose` and turn any exception into one line and an exit status."""

    @click.option("--verbose", is_flag=True, help="show the traceback of a failure")
    @functools.wraps(command)
    def guarded(*args, verbose: bool = False, **kwargs):
        if verbose:
            verbose_logging()
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if verbose:
                traceback.print_exc(file=sys.stderr)
            raise explain(exc) from None

    return guarded
