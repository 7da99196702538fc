"""The API's answers to requests that hand work to a job: 202 with where to follow it, or 409
when the same job is still pending. (Errors are answered by chatcenter/web/errors.py.)"""
from __future__ import annotations

from flask import Response, jsonify

from chatcenter.errors import Conflict
from chatcenter.queues import Enqueued


def job_location(job_id: str) -> str:
    return f"/api/jobs/{job_id}"


class JobPending(Conflict):
    """The same job is queued or running: the answer names it (job_id, Location)."""

    def __init__(self, what: str, job_id: str):
        super().__init__(f"{what} is already queued or running: follow job {job_id}", job_id=job_id)
        self.job_id = job_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Location": job_location(self.job_id)}


def accepted(body: dict) -> Response:
    """202 for a job handed to the workers, with where to follow it."""
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = job_location(body["job_id"])
    return response


def enqueued(result: Enqueued, what: str) -> Response:
    """202 for a new job; JobPending (409) when the same job is still pending."""
    if not result.created:
        raise JobPending(what, result.job_id)
    return accepted({"job_id": result.job_id})
