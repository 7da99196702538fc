"""Work sentry-sdk does on every request or query that nobody would ever see, left out.

Each trim keeps what reaches Sentry the same: the same error events (trace, transaction
name, request), the same sampled transactions with their SQL spans. (Which requests get a
transaction at all is web_tracing's.) Imported only when Sentry is on.
"""
from __future__ import annotations

import sentry_sdk
from sentry_sdk.integrations.sqlalchemy import _before_cursor_execute as _record_query


def no_breadcrumbs_from_access_lines() -> None:
    """gunicorn logs each request's access line after the response, outside the request's
    scope: a breadcrumb per request that no event ever carries."""
    from sentry_sdk.integrations.logging import ignore_logger

    ignore_logger("gunicorn.access")


def sql_spans_only_in_sampled_traces() -> None:
    """The SDK's SQLAlchemy integration records a span and a breadcrumb for every query.
    Outside a sampled transaction the span is dropped unsent, and with tracing off the
    integration is off (no query breadcrumbs either): so queries are recorded only where
    their spans are sent. Swaps the integration's listener for one that asks first (its
    after-query listener does nothing for a query it did not start). Relies on the
    integration's module-level listener: tests/test_dependencies.py fails if it moves."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if event.contains(Engine, "before_cursor_execute", _record_query):
        event.remove(Engine, "before_cursor_execute", _record_query)
    if not event.contains(Engine, "before_cursor_execute", _record_query_if_sampled):
        event.listen(Engine, "before_cursor_execute", _record_query_if_sampled)


def _record_query_if_sampled(conn, cursor, statement, parameters, context, executemany, *args) -> None:
    span = sentry_sdk.get_current_span()
    if span is not None and span.sampled:
        _record_query(conn, cursor, statement, parameters, context, executemany, *args)
