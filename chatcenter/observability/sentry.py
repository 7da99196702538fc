"""The one place Sentry is set up, once per process, tagged with the process's component.

sentry-sdk's stock integrations do the work: FlaskIntegration in the web app, RqIntegration
everywhere (its per-job scope, transaction and flush in the work-horse; the enqueuer's
trace carried into the job). Only public `sentry_sdk.init` options are used here.

With an empty SENTRY_DSN nothing happens and sentry_sdk is never imported, so a
deployment without Sentry pays nothing for it. Code elsewhere asks `active_sdk()`.
"""
from __future__ import annotations

import logging
import sys
from types import ModuleType
from urllib.parse import urlsplit

from chatcenter.config import Settings
from chatcenter.observability.release import release_name

log = logging.getLogger("chatcenter.sentry")

COMPONENTS = ("web", "worker", "cron", "cli")
PROBES = ("/api/health", "/api/health/ready")  # polled all day by load balancers and monitors
CALLER_TRACE = ("HTTP_SENTRY_TRACE", "HTTP_BAGGAGE")  # a caller's trace, as WSGI names it
# Each forked work-horse flushes before it exits (RqIntegration): with Sentry hanging, this
# is what a job waits at most (measured in tests/test_worker_sentry.py).
WORKER_FLUSH_SECONDS = 1.0
_INIT_LINES = {
    "web": "Sentry initialized for environment: {env}",
    "worker": "Sentry initialized for RQ jobs (env: {env})",
}


def active_sdk() -> ModuleType | None:
    """sentry_sdk when this process has a live client; None otherwise (never imports it)."""
    sdk = sys.modules.get("sentry_sdk")
    return sdk if sdk is not None and sdk.get_client().is_active() else None


def traces_sampler(rate: float):
    """The share of work traced: `rate`, with two exceptions for web requests."""

    def sample(context: dict) -> float:
        environ = context.get("wsgi_environ")
        if environ is not None:
            # Health probes poll all day: tracing them would only spend the quota.
            if environ.get("PATH_INFO", "").rstrip("/") in PROBES:
                return 0.0
            # This service's callers never send a trace of their own (nginx drops the
            # headers): one that does could force its request traced (a tiny sample_rand
            # in its baggage wins against any rate). Its errors still carry its trace.
            if any(key in environ for key in CALLER_TRACE):
                return 0.0
            return rate
        # A job continues the trace that enqueued it: the same rate against the same
        # sample_rand gives the same decision, and the job reports the real rate.
        if context.get("parent_sampled") is False:
            return 0.0
        return rate

    return sample


def _options(component: str, tracing: bool) -> dict:
    # Imported here, not at module level: sentry_sdk must stay unloaded when Sentry is off.
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.redis import RedisIntegration
    from sentry_sdk.integrations.rq import RqIntegration
    from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration
    from sentry_sdk.integrations.threading import ThreadingIntegration

    # Every component enqueues jobs: RqIntegration carries the enqueuer's trace into them.
    integrations = [RqIntegration()]
    if component == "web":
        # gthread hands each request to a pool thread and FlaskIntegration gives it a scope
        # of its own: copying the submitting thread's scopes first would be wasted.
        integrations += [FlaskIntegration(transaction_style="url"), ThreadingIntegration(propagate_scope=False)]
    # RQ sends some thirty Redis commands per job: a breadcrumb (and span) each is noise.
    disabled = [RedisIntegration()]
    if not tracing:  # its spans are what it is for; a breadcrumb per query cost 0.1 ms each
        disabled.append(SqlalchemyIntegration())
    options = {"integrations": integrations, "disabled_integrations": disabled,
               # Release health's session per request: this service's errors and crons say more.
               "auto_session_tracking": False}
    if component == "worker":
        # Client reports would make each work-horse's flush an HTTP request per job.
        options.update(send_client_reports=False, shutdown_timeout=WORKER_FLUSH_SECONDS)
    return options


def init_sentry(settings: Settings, component: str) -> bool:
    """Initialise sentry-sdk for `component`; return whether Sentry is on."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown Sentry component {component!r}; expected one of {COMPONENTS}")
    if not settings.sentry_enabled:
        return False

    import sentry_sdk
    from sentry_sdk.integrations.logging import ignore_logger

    from chatcenter.observability import scrubber

    rate = settings.sentry_traces_sample_rate
    scrubber.register_sentry_key(urlsplit(settings.sentry_dsn).username)
    scrubber.register_secret(settings.deepseek_api_key)
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=release_name(settings.sentry_release),
        # At 0, no sampler at all: tracing is off, and no caller's header turns it on.
        traces_sampler=traces_sampler(rate) if rate else None,
        # A chat center holds buyers' messages: frame variables and request bodies are
        # never collected (stack traces, tags with ids and breadcrumbs are).
        include_local_variables=False,
        max_request_body_size="never",
        event_scrubber=scrubber.event_scrubber(),
        # No sentry-trace/baggage headers on calls to WB and DeepSeek: our trace ids,
        # release and DSN key are none of their business. (RQ jobs still continue traces.)
        trace_propagation_targets=[],
        before_send=scrubber.before_send,
        before_send_transaction=scrubber.before_send_transaction,
        before_breadcrumb=scrubber.before_breadcrumb,
        **_options(component, bool(rate)),
    )
    sentry_sdk.get_global_scope().set_tag("component", component)
    # gunicorn logs each access line after the response, outside the request's scope: a
    # breadcrumb per request that no event would ever carry.
    ignore_logger("gunicorn.access")
    if component in _INIT_LINES:  # operators grep for these two; the CLI and cron stay quiet
        log.info(_INIT_LINES[component].format(env=settings.sentry_environment))
    return True
