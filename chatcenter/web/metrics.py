"""GET /metrics: the Prometheus scrape (chatcenter.metrics_export).

Outside /api: a scraper holds no API key. With METRICS_TOKEN set it must send
`Authorization: Bearer <token>`; nginx also serves the path only to the addresses it lists.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry
from redis.exceptions import RedisError

from chatcenter import runtime
from chatcenter.metrics_export import ChatcenterCollector
from chatcenter.queues import QueueUnavailable
from chatcenter.web.errors import error_response

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    resources = runtime.get()
    token = resources.settings.metrics_token
    if token and not _bearer_matches(request.headers.get("Authorization", ""), token):
        response = error_response(401, "Metrics need Authorization: Bearer <METRICS_TOKEN>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ChatcenterCollector(resources))
    try:
        body = generate_latest(registry)
    except RedisError as exc:
        raise QueueUnavailable(exc) from None
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
