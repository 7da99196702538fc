"""The Jobs page: queue depths, running and failed jobs, and a failed job retried or
discarded (chatcenter.job_board, as the API's /api/jobs). For admins: an agent gets the 404
page (the queues hold every seller's jobs)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from chatcenter import job_board, runtime
from chatcenter.errors import BadInput
from chatcenter.queues import QUEUE_NAMES, QueueUnavailable
from chatcenter.web.inbox.blueprint import bp
from chatcenter.web.inbox.live import fragment
from chatcenter.web.scope import admin_only

PAGE_SIZE = 25
REFRESH_SECONDS = 5


def jobs_part(args) -> dict:
    state = args.get("state") or "failed"
    queue_name = args.get("queue") or None
    if state not in job_board.STATES:
        abort(400, _("Unknown job state %(state)s.", state=state[:40]))
    if queue_name is not None and queue_name not in QUEUE_NAMES:
        abort(400, _("Unknown queue %(queue)s.", queue=queue_name[:40]))
    redis = runtime.get().redis
    try:
        page = job_board.list_jobs(redis, state, queue_name, limit=PAGE_SIZE, cursor=args.get("cursor") or None)
    except BadInput:
        abort(400, _("That page of jobs no longer exists; start from the first."))
    kept = {k: v for k, v in (("state", state), ("queue", queue_name)) if v}
    return {"depths": job_board.depths(redis), "jobs": page.jobs, "state": state, "queue": queue_name,
            "states": job_board.STATES, "queues": QUEUE_NAMES, "kept": kept,
            "next_url": url_for("inbox.jobs", **kept, cursor=page.next_cursor) if page.next_cursor else None,
            "refresh": REFRESH_SECONDS, "live_url": url_for("inbox.live_jobs", **kept, **_cursor(args))}


def _cursor(args) -> dict:
    return {"cursor": args["cursor"]} if args.get("cursor") else {}


@bp.get("/jobs")
@admin_only
def jobs():
    return render_template("inbox/jobs.html", part=jobs_part(request.args))


@bp.get("/live/jobs")
@admin_only
def live_jobs():
    return fragment("inbox/_jobs.html", part=jobs_part(request.args))


@bp.post("/jobs/<job_id>/retry")
@admin_only
def retry_job(job_id: str):
    return _act(job_id, job_board.retry, _("Job %(id)s is queued to run again."))


@bp.post("/jobs/<job_id>/discard")
@admin_only
def discard_job(job_id: str):
    return _act(job_id, job_board.discard, _("Job %(id)s was discarded."))


def _act(job_id: str, action, done: str):
    try:
        action(runtime.get().redis, job_id)
        flash(done % {"id": job_id}, "ok")
    except job_board.JobNotFound:
        abort(404, _("This job does not exist any more."))
    except job_board.JobNotFailed as exc:
        flash(str(exc), "error")
    except QueueUnavailable:
        flash(_("The job queue is unavailable; try again in a few seconds."), "error")
    return redirect(url_for("inbox.jobs", state="failed"))
