"""Log lines a log shipper can parse, with the request id or job id that produced them.

Per request: gunicorn writes one access line (format in gunicorn.conf.py) in logfmt,
key=value pairs separated by spaces, no value containing a space or a quote:

    request_id=4f1c... method=GET path=/api/chats/7 route=/api/chats/<int:chat_id> status=200 duration_ms=12

The app contributes what gunicorn cannot know: the matched route and a path that is safe
to print (percent-encoded), through the WSGI environ. Query strings, headers and bodies
are never logged: they can carry tokens and buyers' data.

Per job: RQ's own lines carry the job id ("default: Job OK (<id>)"). Any other record
logged while a job or request runs gets ` job_id=<id>` / ` request_id=<id>` appended
by install_log_context(), which configure_logging() calls in every process.
"""
from __future__ import annotations

import logging
import sys
from urllib.parse import quote

from flask import Flask, request

from chatcenter.request_id import current_request_id

ROUTE_KEY = "chatcenter.route"
PATH_KEY = "chatcenter.path"
NO_VALUE = "-"


# ------------------------------------------------------------------ per request (access)


def _annotate_environ(response):
    rule = request.url_rule
    request.environ[ROUTE_KEY] = rule.rule if rule is not None else NO_VALUE
    # Percent-encode so a path with spaces or quotes cannot break the key=value line.
    request.environ[PATH_KEY] = quote(request.path, safe="/-._~!$&()*+,;=:@") or "/"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_annotate_environ)


# ----------------------------------------------------------- job id and request id on records


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
        suffix = "".join(
            f" {key}={value}"
            for key in ("request_id", "job_id")
            if (value := getattr(record, key, NO_VALUE)) not in (NO_VALUE, None)
        )
        if not suffix:
            return text
        first, newline, rest = text.partition("\n")  # keep tracebacks below the line
        return first + suffix + newline + rest


def install_log_context(logger: logging.Logger | None = None) -> None:
    """Give the plain stream handlers of `logger` (root) the ids; idempotent.

    Only handlers of exactly logging.StreamHandler (what basicConfig makes) are changed:
    handlers installed by others (pytest's, a log shipper's) are left as they are.
    """
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if type(handler) is not logging.StreamHandler or isinstance(handler.formatter, ContextFormatter):
            continue
        handler.addFilter(LogContextFilter())
        handler.setFormatter(ContextFormatter(handler.formatter))
