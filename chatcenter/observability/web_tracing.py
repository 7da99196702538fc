"""Each web request's trace, and a transaction only for a request whose trace is sampled.

sentry-sdk's Flask integration starts a transaction for every request and then decides
whether to keep it: at a traces rate of 0.1, nine requests in ten paid for a transaction
that was dropped (0.37 M instructions of a 12.5 M request, by callgrind; 0.13 M here).
So FlaskIntegration starts none here (no HTTP method to capture) and, on Flask's
request_started, each request:

- gets its trace: the caller's (sentry-trace and baggage headers) or a new one;
- with tracing on, gets the SDK's sampling decision before any transaction is started
  (head_sampling): a sampled request's transaction is started through the SDK; an
  unsampled one is its span, never started nor sent, so jobs it enqueues carry its trace
  marked "not sampled" and its errors are in its trace.

A sampled transaction ends at teardown with the response's status, as the SDK's own did.
Imported only when Sentry is on.
"""
from __future__ import annotations

import sentry_sdk
from flask import request, request_finished, request_started, request_tearing_down
from sentry_sdk.consts import OP
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.tracing import TransactionSource
from sentry_sdk.utils import capture_internal_exceptions

from chatcenter.observability import head_sampling

# A caller's trace: sentry-sdk's header names, and where WSGI puts them.
TRACE_HEADERS = (("sentry-trace", "HTTP_SENTRY_TRACE"), ("baggage", "HTTP_BAGGAGE"))
UNMATCHED = "generic WSGI request"  # the SDK's name for a request no route matched
_SAMPLED = "chatcenter.sentry_transaction"  # where a request keeps its started transaction


def start_trace(sender, **extra) -> None:
    """request_started, inside the request's scopes (the Flask integration's middleware
    made them). Runs after that integration's own handler has named the request."""
    with capture_internal_exceptions():  # as the SDK's own hooks: Sentry never fails a request
        _start_trace()


def _start_trace() -> None:
    if sentry_sdk.get_current_span() is not None:  # something else already traces it
        return
    environ = request.environ
    headers = {name: environ[key] for name, key in TRACE_HEADERS if key in environ}
    # As continue_trace() does: the caller's trace, or a new one (incoming data is never
    # None here, so it always replaces the previous request's).
    sentry_sdk.get_isolation_scope().generate_propagation_context(incoming_data=headers)
    transaction = head_sampling.start_if_sampled(
        {"wsgi_environ": environ}, op=OP.HTTP_SERVER,
        name=request.url_rule.rule if request.url_rule else UNMATCHED,
        source=TransactionSource.ROUTE, origin=FlaskIntegration.origin)
    if transaction is not None:
        transaction.__enter__()
        environ[_SAMPLED] = transaction


def record_status(sender, response, **extra) -> None:
    """request_finished: the response's status, on a sampled request's transaction."""
    transaction = request.environ.get(_SAMPLED)
    if transaction is not None:
        with capture_internal_exceptions():
            transaction.set_http_status(response.status_code)


def finish_transaction(sender, exc=None, **extra) -> None:
    """request_tearing_down: runs for every request, whatever happened in it."""
    transaction = request.environ.pop(_SAMPLED, None)
    if transaction is not None:
        with capture_internal_exceptions():
            transaction.__exit__(type(exc) if exc is not None else None, exc,
                                 exc.__traceback__ if exc is not None else None)


def connect() -> None:
    """Called once, by init_sentry, for the web component."""
    request_started.connect(start_trace)
    request_finished.connect(record_status)
    request_tearing_down.connect(finish_transaction)
