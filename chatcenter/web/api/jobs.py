"""GET /api/jobs/<id>: follow a job this service enqueued to its end."""
from __future__ import annotations

from flask import Blueprint, jsonify
from redis.exceptions import RedisError

from chatcenter import actions, runtime
from chatcenter.queries import job_view
from chatcenter.queues import QueueUnavailable
from chatcenter.web.api.inputs import query

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("/<job_id>")
def job(job_id: str):
    query()
    try:
        view = job_view(runtime.get().redis, job_id)
    except RedisError as exc:  # Redis went away between the reads of one job
        raise QueueUnavailable(exc) from None
    if view is None:
        shown = job_id if len(job_id) <= 100 else job_id[:100] + "…"
        raise actions.NotFound(f"job {shown} does not exist (unknown, expired, or not one of this service's jobs)")
    return jsonify(view)
