"""The one place Sentry is set up, once per process, tagged with the process's component.

sentry-sdk's stock integrations do the work (FlaskIntegration in the web app, RqIntegration
everywhere: the job's scope, trace, transaction and the work-horse's flush), configured
through public `sentry_sdk.init` options only. With an empty SENTRY_DSN nothing happens and
sentry_sdk is never imported. Code elsewhere asks `active_sdk()`.
"""
from __future__ import annotations

import logging
import sys
from types import ModuleType
from urllib.parse import urlsplit

from chatcenter.config import Settings
from chatcenter.observability.release import release_name

log = logging.getLogger("chatcenter.sentry")

COMPONENTS = ("web", "worker", "poller", "cli")
PROBES = ("/api/health", "/api/health/ready")  # polled all day by load balancers and monitors
CALLER_TRACE = ("HTTP_SENTRY_TRACE", "HTTP_BAGGAGE")  # a caller's trace, as WSGI names it
# Each work-horse flushes before it exits: with Sentry hanging, what a job waits at most.
WORKER_FLUSH_SECONDS = 1.0
INIT_LINES = {"web": "Sentry initialized for environment: {env}",  # operators grep for these
              "worker": "Sentry initialized for RQ jobs (env: {env})"}


def active_sdk() -> ModuleType | None:
    """sentry_sdk when this process has a live client; None otherwise (never imports it)."""
    sdk = sys.modules.get("sentry_sdk")
    return sdk if sdk is not None and sdk.get_client().is_active() else None


def traces_sampler(rate: float):
    """`rate` for all work but health probes and requests that bring a trace of their own:
    a tiny sample_rand in a caller's baggage would win against any rate (nginx drops those
    headers too). A job gets the rate against its enqueuer's sample_rand: the same decision,
    and the real rate reported."""

    def sample(context: dict) -> float:
        environ = context.get("wsgi_environ")
        if environ is not None:
            probe = environ.get("PATH_INFO", "").rstrip("/") in PROBES
            return 0.0 if probe or any(key in environ for key in CALLER_TRACE) else rate
        return 0.0 if context.get("parent_sampled") is False else rate

    return sample


def _options(component: str, tracing: bool) -> dict:
    # Imported here, not at module level: sentry_sdk must stay unloaded when Sentry is off.
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.redis import RedisIntegration
    from sentry_sdk.integrations.rq import RqIntegration
    from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration
    from sentry_sdk.integrations.threading import ThreadingIntegration

    integrations = [RqIntegration()]  # every component enqueues: the job continues its trace
    if component == "web":  # gthread: each request gets its own scope from FlaskIntegration
        integrations += [FlaskIntegration(transaction_style="url"), ThreadingIntegration(propagate_scope=False)]
    # RQ sends some thirty Redis commands per job: a breadcrumb (and span) each is noise.
    # SQL breadcrumbs without tracing cost 0.1 ms a query for little; with it, spans count.
    disabled = [RedisIntegration()] + ([] if tracing else [SqlalchemyIntegration()])
    options = {"integrations": integrations, "disabled_integrations": disabled,
               "auto_session_tracking": False}  # errors and crons say more than release health
    if component == "worker":  # client reports would make each horse's flush a request
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
        dsn=settings.sentry_dsn, environment=settings.sentry_environment,
        release=release_name(settings.sentry_release),
        traces_sampler=traces_sampler(rate) if rate else None,  # none at 0: no header turns tracing on
        # Buyers' messages: frame variables and request bodies are never collected.
        include_local_variables=False, max_request_body_size="never",
        event_scrubber=scrubber.event_scrubber(),
        # No sentry-trace/baggage on calls to WB and DeepSeek: our trace ids, release and DSN
        # key are none of their business (RQ jobs still continue traces).
        trace_propagation_targets=[],
        before_send=scrubber.before_send, before_send_transaction=scrubber.before_send_transaction,
        before_breadcrumb=scrubber.before_breadcrumb,
        **_options(component, bool(rate)),
    )
    sentry_sdk.get_global_scope().set_tag("component", component)
    # gunicorn's access line comes after the response, outside the request's scope: a
    # breadcrumb per request that no event would carry.
    ignore_logger("gunicorn.access")
    if component in INIT_LINES:
        log.info(INIT_LINES[component].format(env=settings.sentry_environment))
    return True
