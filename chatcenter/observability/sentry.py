"""The one place Sentry is set up, once per process, tagged with the process's component.

With an empty SENTRY_DSN nothing happens and sentry_sdk is never imported, so a
deployment without Sentry pays nothing for it. Code elsewhere asks `active_sdk()`.
"""
from __future__ import annotations

import importlib
import logging
import sys
from types import ModuleType
from urllib.parse import urlsplit

from chatcenter.config import Settings
from chatcenter.observability.release import release_name

log = logging.getLogger("chatcenter.sentry")

COMPONENTS = ("web", "worker", "cron", "cli")
PROBES = ("/api/health", "/api/health/ready")  # polled all day by load balancers and monitors
_INIT_LINES = {
    "web": "Sentry initialized for environment: {env}",
    "worker": "Sentry initialized for RQ jobs (env: {env})",
}


def active_sdk() -> ModuleType | None:
    """sentry_sdk when this process has a live client; None otherwise (never imports it)."""
    sdk = sys.modules.get("sentry_sdk")
    return sdk if sdk is not None and sdk.get_client().is_active() else None


def _integrations(component: str) -> list:
    # Imported here, not at module level: sentry_sdk must stay unloaded when Sentry is off.
    from sentry_sdk.integrations.rq import RqIntegration

    # Every component enqueues jobs: RqIntegration carries the enqueuer's trace into them.
    if component == "web":
        from sentry_sdk.integrations.flask import FlaskIntegration
        from sentry_sdk.integrations.threading import ThreadingIntegration

        # gunicorn's gthread hands each request to a pool thread, and the Flask integration
        # gives the request a scope of its own: copying the submitting thread's scopes into
        # every request first was wasted.
        # No transaction per request from the integration: web_tracing gives each request its
        # trace, and a transaction only to a request whose trace is sampled.
        return [FlaskIntegration(transaction_style="url", http_methods_to_capture=()),
                ThreadingIntegration(propagate_scope=False),
                RqIntegration()]
    return [RqIntegration()]


def _traces_sampler(rate: float):
    def sample(context: dict) -> float:
        # A job continues the trace of the request or job that enqueued it: same decision.
        if "rq_job" in context and context.get("parent_sampled") is not None:
            return float(context["parent_sampled"])
        # Health probes poll all day: tracing them would only spend the quota. (A sampler
        # also overrules a client's "sampled" sentry-trace header, which the rate would obey.)
        environ = context.get("wsgi_environ") or {}
        if environ.get("PATH_INFO", "").rstrip("/") in PROBES:
            return 0.0
        return rate

    return sample


def _costs_off(component: str, tracing: bool) -> dict:
    """What a forked work-horse, or every web request, would pay for, for little in return."""
    from sentry_sdk.integrations.redis import RedisIntegration
    from sentry_sdk.integrations.sqlalchemy import SqlalchemyIntegration

    # RQ sends some thirty Redis commands per job: a breadcrumb (and span) each is noise.
    disabled = [RedisIntegration()]
    if not tracing:  # its spans are what it is for; a breadcrumb per query cost 0.1 ms each
        disabled.append(SqlalchemyIntegration())
    # Release health's session per request: this service's errors and crons say more.
    options = {"disabled_integrations": disabled, "auto_session_tracking": False}
    if component == "worker":
        # Each work-horse flushes before it exits: client reports would make that an HTTP
        # request per job, and the backpressure monitor a thread start per job.
        options.update(send_client_reports=False, enable_backpressure_handling=False)
    return options


def queued_in_this_process(transport) -> bool | None:
    """Whether sentry-sdk's transport has had something to send in this process: its
    sending thread runs here only once something was queued here (its pid is checked).
    None for a transport we do not know. Relies on the transport's private `_worker`:
    tests/test_dependencies.py fails if an upgrade moves it."""
    worker = getattr(transport, "_worker", None)
    if worker is None or not hasattr(worker, "is_alive"):
        return None
    return worker.is_alive


def flush_only_what_this_process_queued(transport) -> None:
    """Every work-horse flushes before it exits (RqIntegration). With nothing captured
    in it, sentry-sdk's transport would still start its sending thread there to flush
    client reports (off for the worker) and wait for it: about 1 ms of every job."""
    if queued_in_this_process(transport) is None:
        return  # not the transport we know: flush as the SDK does
    flush = transport.flush

    def flush_if_queued(timeout, callback=None):
        if queued_in_this_process(transport):
            return flush(timeout, callback)
        return None

    transport.flush = flush_if_queued


def work_out_before_forking() -> None:
    """What every work-horse's first report would work out anew, worked out once in the
    worker so each horse inherits it: the installed packages and versions that the SDK's
    ModulesIntegration adds to each event (reading every package's metadata: about 75 ms
    of CPU per failed job). Relies on sentry-sdk's private cache: tests/test_dependencies.py
    fails if an upgrade moves it."""
    from sentry_sdk.utils import _get_installed_modules

    _get_installed_modules()
    # What each work-horse's job would otherwise import anew (its trace and transaction).
    importlib.import_module("chatcenter.observability.job_tracing")


def init_sentry(settings: Settings, component: str) -> bool:
    """Initialise sentry-sdk for `component`; return whether Sentry is on."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown Sentry component {component!r}; expected one of {COMPONENTS}")
    if not settings.sentry_enabled:
        return False

    import sentry_sdk

    from chatcenter.observability import scrubber, sentry_trims

    tracing = bool(settings.sentry_traces_sample_rate)
    scrubber.register_sentry_key(urlsplit(settings.sentry_dsn).username)
    scrubber.register_secret(settings.deepseek_api_key)
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=release_name(settings.sentry_release),
        # At 0, no sampler at all: tracing is off, so no request pays for deciding it.
        traces_sampler=_traces_sampler(settings.sentry_traces_sample_rate) if tracing else None,
        integrations=_integrations(component),
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
        **_costs_off(component, tracing),
    )
    sentry_sdk.get_global_scope().set_tag("component", component)
    sentry_trims.no_breadcrumbs_from_access_lines()
    if tracing:
        sentry_trims.sql_spans_only_in_sampled_traces()
    if component == "web":
        from chatcenter.observability import web_tracing

        web_tracing.connect()
    if component == "worker":
        flush_only_what_this_process_queued(sentry_sdk.get_client().transport)
        work_out_before_forking()
    if component in _INIT_LINES:  # operators grep for these two; the CLI and cron stay quiet
        log.info(_INIT_LINES[component].format(env=settings.sentry_environment))
    return True
