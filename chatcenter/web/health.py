"""Liveness, readiness and the Sentry test routes."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify
from redis.exceptions import RedisError

from chatcenter import runtime
from chatcenter.queues import DEFAULT, QueueUnavailable, queue
from chatcenter.web.errors import PublicError

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
    client = runtime.redis_client(runtime.get().settings.redis_url, timeout=READY_TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


@bp.get("/ready")
def readiness():
    resources = runtime.get()
    checks = {"database": _check(resources.db.ping), "redis": _check(_ping_redis)}
    ready = all(check["ok"] for check in checks.values())
    settings = resources.settings
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": checks,
        "sentry": {"enabled": settings.sentry_enabled, "environment": settings.sentry_environment},
    }
    return jsonify(body), 200 if ready else 503


def _require_debug() -> None:
    if not runtime.get().settings.debug:
        abort(404)  # the route does not exist in production


@bp.get("/sentry-test")
def sentry_test():
    _require_debug()
    if not runtime.get().settings.sentry_enabled:
        return jsonify(SENTRY_DISABLED)
    raise SentryTestError("Sentry test error - this is intentional for testing error tracking")


@bp.post("/sentry-test/worker")
def sentry_test_worker():
    _require_debug()
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
