"""Logging for every process: one plain line per record on stderr, with the request id
or job id that produced it.

RQ's own lines carry the job id ("chatcenter:sync: Job OK (<id>)"). Any other record logged
while a job or request runs gets ` job_id=<id>` / ` request_id=<id>` appended.
"""
from __future__ import annotations

import logging
import sys

from flask import g, has_request_context

NO_VALUE = "-"


def current_request_id() -> str:
    """The id of the request being handled (web.request_id puts it on g), or "-"."""
    return g.get("request_id", NO_VALUE) if has_request_context() else NO_VALUE


def configure_logging(level: int = logging.INFO) -> None:
    """Plain lines on stderr, unless the host (gunicorn, pytest) set logging up already."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("chatcenter").setLevel(level)
    install_log_context()


class LogContextFilter(logging.Filter):
    """Adds `request_id` and `job_id` ("-" when none) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        if not hasattr(record, "job_id"):
            record.job_id = _current_job_id()
        return True


def _current_job_id() -> str:
    rq_job = sys.modules.get("rq.job")  # no job can run where RQ was never imported
    job = rq_job.get_current_job() if rq_job is not None else None
    return job.id if job is not None else NO_VALUE


class ContextFormatter(logging.Formatter):
    """Wraps a handler's formatter: its first line gets the request/job id appended."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        suffix = "".join(f" {key}={value}" for key in ("request_id", "job_id")
                         if (value := getattr(record, key, NO_VALUE)) not in (NO_VALUE, None))
        first, newline, rest = text.partition("\n")  # keep tracebacks below the line
        return first + suffix + newline + rest if suffix else text


def install_log_context(logger: logging.Logger | None = None) -> None:
    """Give the plain stream handlers of `logger` (root) the ids; idempotent. Only handlers
    of exactly logging.StreamHandler (basicConfig's): others' (pytest's, a shipper's) stay."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if type(handler) is not logging.StreamHandler or isinstance(handler.formatter, ContextFormatter):
            continue
        handler.addFilter(LogContextFilter())
        handler.setFormatter(ContextFormatter(handler.formatter))
