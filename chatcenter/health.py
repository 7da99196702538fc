"""Liveness, readiness and the Sentry test routes."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify
from redis import Redis

from chatcenter.errors import PublicError

bp = Blueprint("health", __name__, url_prefix="/api/health")

READY_TIMEOUT = 1.0  # seconds per dependency check
SENTRY_DISABLED = {
    "status": "sentry_disabled",
    "message": "Sentry is not configured (SENTRY_DSN is empty)",
}


class SentryTestError(PublicError):
    """Raised on purpose by the test route; its message is part of the answer."""

    public_prefix = "Test error triggered: "


@bp.get("")
def liveness():
    return jsonify(status="ok")


def _check(probe) -> dict:
    try:
        probe()
    except Exception as exc:  # any failure means "not ready"; the class name is enough
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _ping_redis() -> None:
    url = current_app.extensions["chatcenter"].settings.redis_url
    client = Redis.from_url(url, socket_connect_timeout=READY_TIMEOUT, socket_timeout=READY_TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


@bp.get("/ready")
def readiness():
    runtime = current_app.extensions["chatcenter"]
    checks = {"database": _check(runtime.db.ping), "redis": _check(_ping_redis)}
    ready = all(check["ok"] for check in checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
        "sentry": {"enabled": runtime.settings.sentry_enabled, "environment": runtime.settings.sentry_environment},
    }
    return jsonify(body), 200 if ready else 503


def _require_debug() -> None:
    if not current_app.extensions["chatcenter"].settings.debug:
        abort(404)  # the route does not exist in production


@bp.get("/sentry-test")
def sentry_test():
    _require_debug()
    if not current_app.extensions["chatcenter"].settings.sentry_enabled:
        return jsonify(SENTRY_DISABLED)
    raise SentryTestError("Sentry test error - this is intentional for testing error tracking")


@bp.post("/sentry-test/worker")
def sentry_test_worker():
    _require_debug()
    runtime = current_app.extensions["chatcenter"]
    if not runtime.settings.sentry_enabled:
        return jsonify(SENTRY_DISABLED)
    from chatcenter.queues import DEFAULT, queue

    job = queue(runtime.redis, DEFAULT).enqueue(
        "jobs.diagnostics.raise_test_error", description="raise_test_error", failure_ttl=24 * 3600)
    return jsonify(status="enqueued", job_id=job.id), 202
