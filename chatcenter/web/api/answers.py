"""How the API answers what operators asked for, and what went wrong, as JSON.

Errors are {"detail": "..."}, the detail starting with the field at fault where there is
one. Each handler returns a response, so none of these reaches Sentry: they are the
client's mistakes, not ours.
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from chatcenter import actions
from chatcenter.queries import BadQuery
from chatcenter.queues import Enqueued
from chatcenter.web.errors import error_response


def job_location(job_id: str) -> str:
    return f"/api/jobs/{job_id}"


def accepted(body: dict):
    """202 for a job handed to the workers, with where to follow it."""
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = job_location(body["job_id"])
    return response


def enqueued(result: Enqueued, what: str):
    """202 for a new job; 409 (naming the pending one) when the same job is still pending."""
    if result.created:
        return accepted({"job_id": result.job_id})
    response = jsonify(detail=f"{what} is already queued or running: follow job {result.job_id}",
                       job_id=result.job_id)
    response.status_code = 409
    response.headers["Location"] = job_location(result.job_id)
    return response


def register_error_handlers(bp: Blueprint) -> None:
    for exc_class, status in ((actions.InvalidInput, 400), (BadQuery, 400), (actions.NotFound, 404),
                              (actions.AnalysisOff, 409), (actions.IdempotencyConflict, 422)):
        bp.register_error_handler(exc_class, _answer_with(status))


def _answer_with(status: int):
    def answer(exc: Exception):
        return error_response(status, str(exc))

    return answer
