"""Liveness, readiness and (with DEBUG only) the Sentry test routes."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as ProbeTimeout

from flask import Blueprint, Flask, jsonify
from redis.exceptions import RedisError

from chatcenter import runtime
from chatcenter.config import Settings
from chatcenter.contract import Liveness, Ready
from chatcenter.poller.membership import pollers
from chatcenter.queues import DEFAULT, QueueUnavailable, queue
from chatcenter.web.api.openapi import answers, spec
from chatcenter.web.errors import PublicError

bp = Blueprint("health", __name__, url_prefix="/api/health")
# Registered only with DEBUG: in production the routes do not exist, for every method.
diagnostics = Blueprint("diagnostics", __name__, url_prefix="/api/health")

READY_TIMEOUT = 1.0  # seconds per dependency check
# Probes run here so /ready answers within READY_TIMEOUT even when a database hangs
# (accepts the connection, then says nothing). A hung probe holds one of these threads
# until the driver's own timeout; more hung probes than threads just time out in the queue.
_probes = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ready-probe")


def init_app(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp)
    if settings.debug:
        app.register_blueprint(diagnostics)
SENTRY_DISABLED = {
    "status": "sentry_disabled",
    "message": "Sentry is not configured (SENTRY_DSN is empty)",
}


class SentryTestError(PublicError):
    """Raised on purpose by the test route; its message is part of the answer."""

    public_prefix = "Test error triggered: "


@bp.get("")
@spec.validate(resp=answers((200, Liveness, "The process answers")), security={}, tags=["health"],
               skip_validation=True)  # nothing to validate: no input, answers as documented
def liveness():
    """Liveness (no I/O)"""
    return jsonify(status="ok")


def _checks(probes: dict) -> dict:
    """Run the probes side by side; each answers within READY_TIMEOUT or counts as timed out."""
    futures = {name: _probes.submit(probe) for name, probe in probes.items()}
    deadline = time.monotonic() + READY_TIMEOUT
    return {name: _outcome(future, deadline) for name, future in futures.items()}


def _outcome(future, deadline: float) -> dict:
    try:
        future.result(timeout=max(deadline - time.monotonic(), 0))
    except ProbeTimeout:
        return {"ok": False, "error": "timeout"}
    except Exception as exc:  # any failure means "not ready"; the class name is enough
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _ping_redis(url: str) -> None:
    client = runtime.redis_client(url, timeout=READY_TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


def _read_pollers(url: str) -> dict:
    client = runtime.redis_client(url, timeout=READY_TIMEOUT)
    try:
        found = pollers(client)
    finally:
        client.close()
    return {"live": [{"id": p.id, "sellers": p.sellers, "last_poll_at": p.as_dict()["last_poll_at"]}
                     for p in found if p.live],
            "gone": [{"id": p.id, "last_beat_at": p.as_dict()["last_beat_at"]} for p in found if not p.live]}


def _poller_answer(future, deadline: float) -> dict:
    """The pollers, live and gone. Not a readiness check: this web process serves without
    them (a dead poller makes chats stale, which the inbox shows, not unreachable)."""
    try:
        found = future.result(timeout=max(deadline - time.monotonic(), 0))
    except ProbeTimeout:
        return {"ok": False, "error": "timeout", "live": [], "gone": []}
    except Exception as exc:  # Redis away: the redis check says so too
        return {"ok": False, "error": type(exc).__name__, "live": [], "gone": []}
    return {"ok": bool(found["live"]), **found}


@bp.get("/ready")
@spec.validate(resp=answers((200, Ready, "Ready"), 503, s503="Not ready: the database or Redis does not answer"),
               security={}, tags=["health"], skip_validation=True)
def readiness():
    """Readiness: database and Redis answer (1 s each)"""
    resources = runtime.get()
    redis_url = resources.settings.redis_url  # the probe thread has no app context
    polled = _probes.submit(_read_pollers, redis_url)
    checks = _checks({"database": resources.db.ping, "redis": lambda: _ping_redis(redis_url)})
    ready = all(check["ok"] for check in checks.values())
    settings = resources.settings
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
        "sentry": {"enabled": settings.sentry_enabled, "environment": settings.sentry_environment},
        "pollers": _poller_answer(polled, time.monotonic() + READY_TIMEOUT),
    }
    return jsonify(body), 200 if ready else 503


@diagnostics.get("/sentry-test")
def sentry_test():
    if not runtime.get().settings.sentry_enabled:
        return jsonify(SENTRY_DISABLED)
    raise SentryTestError("Sentry test error - this is intentional for testing error tracking")


@diagnostics.post("/sentry-test/worker")
def sentry_test_worker():
    resources = runtime.get()
    if not resources.settings.sentry_enabled:
        return jsonify(SENTRY_DISABLED)
    try:
        job = queue(resources.redis, DEFAULT).enqueue(
            "jobs.diagnostics.raise_test_error", description="jobs.diagnostics.raise_test_error",
            failure_ttl=24 * 3600)
    except RedisError as exc:
        raise QueueUnavailable(exc) from None
    return jsonify(status="enqueued", job_id=job.id), 202
