"""The one place Sentry is set up, once per process, for the web app or the worker.

With an empty SENTRY_DSN nothing happens and sentry_sdk is never imported, so a
deployment without Sentry pays nothing for it.
"""
from __future__ import annotations

import logging

from chatcenter.config import Settings
from chatcenter.release import release_name

log = logging.getLogger("chatcenter.sentry")

COMPONENTS = ("web", "worker", "cron", "cli")
_INIT_LINES = {
    "web": "Sentry initialized for environment: {env}",
    "worker": "Sentry initialized for RQ jobs (env: {env})",
}


def _integrations(component: str) -> list:
    # Imported here, not at module level: sentry_sdk must stay unloaded when Sentry is off.
    from sentry_sdk.integrations.rq import RqIntegration

    # Every component enqueues jobs: RqIntegration carries the enqueuer's trace into them.
    if component == "web":
        from sentry_sdk.integrations.flask import FlaskIntegration

        return [FlaskIntegration(transaction_style="url"), RqIntegration()]
    return [RqIntegration()]


def init_sentry(settings: Settings, component: str) -> bool:
    """Initialise sentry-sdk for `component`; return whether Sentry is on."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown Sentry component {component!r}; expected one of {COMPONENTS}")
    if not settings.sentry_enabled:
        return False

    import sentry_sdk

    from chatcenter import privacy

    privacy.register_secret(_dsn_public_key(settings.sentry_dsn))
    privacy.register_secret(settings.deepseek_api_key)
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=release_name(settings.sentry_release),
        traces_sample_rate=settings.sentry_traces_sample_rate,
        integrations=_integrations(component),
        include_local_variables=True,
        # No sentry-trace/baggage headers on calls to WB and DeepSeek: our trace ids,
        # release and DSN key are none of their business. (RQ jobs still continue traces.)
        trace_propagation_targets=[],
        before_send=privacy.before_send,
        before_send_transaction=privacy.before_send_transaction,
        before_breadcrumb=privacy.before_breadcrumb,
    )
    sentry_sdk.get_global_scope().set_tag("component", component)
    log.info(_INIT_LINES.get(component, "Sentry initialized for {component} (env: {env})").format(
        env=settings.sentry_environment, component=component))
    return True


def _dsn_public_key(dsn: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(dsn).username or ""

