"""GET /api/jobs/<id>: follow a job this service enqueued to its end."""
from __future__ import annotations

from flask import Blueprint

from chatcenter import runtime
from chatcenter.contract import OneJob
from chatcenter.errors import NotFound
from chatcenter.queries import job_view
from chatcenter.web.api.inputs import NoQuery
from chatcenter.web.api.openapi import READS, answers, spec

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.get("/<job_id>")
@spec.validate(query=NoQuery, resp=answers((200, OneJob, "The job"), *READS, 404), tags=["jobs"],
               path_parameter_descriptions={"job_id": "sync-seller-N, analyze-chat-N or reply-N"})
def job(job_id: str):
    """A job's state: queued, started, finished (with its result) or failed (with a reason)

    Only this service's jobs (sync-seller-N, analyze-chat-N, reply-N); finished jobs are kept an hour,
    failed ones a week.
    """
    view = job_view(runtime.get().redis, job_id)  # RedisError: answered 503 by web/errors.py
    if view is None:
        shown = job_id if len(job_id) <= 100 else job_id[:100] + "…"
        raise NotFound(f"job {shown} does not exist (unknown, expired, or not one of this service's jobs)")
    return view
