"""Jobs: follow one to its end; list them by state (the job view); retry or discard a failed one."""
from __future__ import annotations

from flask import Blueprint, Response

from chatcenter import job_board, runtime
from chatcenter.scope import visible_jobs
from chatcenter.contract import JobAccepted, JobList, OneJob
from chatcenter.queries import job_view
from chatcenter.web.api.enqueued import accepted
from chatcenter.web.api.inputs import JobListQuery, NoBody, NoQuery
from chatcenter.web.api.openapi import READS, WRITES, answers, spec
from chatcenter.web.reads import request_reader
from chatcenter.web.scope import current_scope

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
JOB_ID = {"job_id": "sync-seller-N, analyze-chat-N or reply-N"}


@bp.get("")
@spec.validate(resp=answers((200, JobList, "One page of jobs"), *READS), tags=["jobs"])
def jobs(query: JobListQuery):
    """Jobs in one state (failed by default), newest first, in pages

    Built on RQ's registries: queued, scheduled (waiting for a retry), started (running, with how long) and
    failed (with a short public reason; kept a week). Keyset pages: pass `next_cursor` as `cursor` with the
    same state and queue; jobs arriving meanwhile never make a page repeat one.
    """
    scope = current_scope()

    def keep(views: list[dict]) -> list[dict]:  # a key limited to some sellers: their jobs only
        with request_reader() as session:
            return visible_jobs(session, scope, views)

    page = job_board.list_jobs(runtime.get().redis, query.state, query.queue, limit=query.limit,
                               cursor=query.cursor, keep=keep)
    return {"jobs": page.jobs, "next_cursor": page.next_cursor}


@bp.get("/<job_id>")
@spec.validate(query=NoQuery, resp=answers((200, OneJob, "The job"), *READS, 404), tags=["jobs"],
               path_parameter_descriptions=JOB_ID)
def job(job_id: str):
    """A job's state: queued, started, finished (with its result) or failed (with a reason)

    Only this service's jobs (sync-seller-N, analyze-chat-N, reply-N); finished jobs are kept an hour,
    failed ones a week.
    """
    view = job_view(runtime.get().redis, job_id)  # RedisError: answered 503 by web/errors.py
    if view is None:
        raise job_board.JobNotFound(job_id)
    return view


@bp.post("/<job_id>/retry")
@spec.validate(resp=answers((202, JobAccepted, "The failed job is back on its queue"), *WRITES, 409,
                            s409="The job is not failed (queued, running or finished)"),
               tags=["jobs"], path_parameter_descriptions=JOB_ID)
def retry(job_id: str, query: NoQuery, json: NoBody):
    """Run a failed job again, as it was enqueued"""
    job_board.retry(runtime.get().redis, job_id)
    return accepted({"job_id": job_id})


@bp.delete("/<job_id>")
@spec.validate(query=NoQuery, resp=answers((204, None, "The failed job is forgotten"), *READS, 403, 404, 409,
                                           s409="The job is not failed (queued, running or finished)"),
               tags=["jobs"], path_parameter_descriptions=JOB_ID)
def discard(job_id: str):
    """Discard a failed job: its record and its place among the failed ones"""
    job_board.discard(runtime.get().redis, job_id)
    return Response(status=204)
