"""Errors answered in one place: each exception of chatcenter.errors gives its status through
a real request, as JSON on a blueprint answered like the API and as a page on one answered
like the inbox; expected errors never reach Sentry, unexpected ones do, once each."""
from __future__ import annotations

import pytest
import sentry_sdk
from flask import Blueprint
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text

from chatcenter.errors import (BadInput, Conflict, DatabaseUnavailable, NotFound, Unavailable, Unprocessable)
from chatcenter.queues import QueueUnavailable
from chatcenter.web.api.enqueued import JobPending
from chatcenter.web.errors import answer_in_json, answer_in_pages
from tests.helpers import resources
from tests.inbox_support import add_operator, sign_in

RAISED = {
    "bad-input": (lambda: BadInput("limit", "must be a whole number from 1 to 100"), 400,
                  "limit: must be a whole number from 1 to 100", {}),
    "not-found": (lambda: NotFound.of("chat", 7), 404, "chat 7 does not exist", {}),
    "conflict": (lambda: Conflict("analysis is off"), 409, "analysis is off", {}),
    "job-pending": (lambda: JobPending("a sync of seller 3", "sync-seller-3"), 409,
                    "a sync of seller 3 is already queued or running: follow job sync-seller-3",
                    {"Location": "/api/jobs/sync-seller-3"}),
    "unprocessable": (lambda: Unprocessable("Idempotency-Key: was already used"), 422,
                      "Idempotency-Key: was already used", {}),
    "unavailable": (lambda: Unavailable("WB is away; try again in a few seconds"), 503,
                    "WB is away; try again in a few seconds", {"Retry-After": "5"}),
    "queue-down": (lambda: QueueUnavailable(RedisConnectionError()), 503,
                   "The job queue is unavailable; try again in a few seconds", {"Retry-After": "5"}),
    "redis-error": (lambda: RedisConnectionError("Connection refused"), 503,
                    "The job queue is unavailable; try again in a few seconds", {"Retry-After": "5"}),
    "database-down": (lambda: DatabaseUnavailable(OSError()), 503,
                      "The database is unavailable; try again in a few seconds", {"Retry-After": "5"}),
}


def _raising_blueprints(app):
    """Two blueprints whose routes raise what the test names: one answered as the API is,
    one as the inbox is (the same registration calls the app's own blueprints use)."""
    as_api, as_pages = Blueprint("as_api", __name__), Blueprint("as_pages", __name__)
    answer_in_json(as_api)
    answer_in_pages(as_pages)

    def raise_named(name: str):
        if name == "bug":
            raise RuntimeError("a bug of ours, with internal words")
        if name == "bad-sql":  # a statement that cannot work is a bug, not an outage
            with resources(app).db.session() as session:
                session.execute(text("SELECT * FROM no_such_table"))
        raise RAISED[name][0]()

    as_api.add_url_rule("/test-api/<name>", "raise", raise_named)
    as_pages.add_url_rule("/test-page/<name>", "raise", raise_named)
    app.register_blueprint(as_api)
    app.register_blueprint(as_pages)
    return app


@pytest.fixture
def raising_app(make_app, sentry_receiver):
    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=0.0)
    add_operator(app)
    return _raising_blueprints(app)


@pytest.mark.parametrize("name", sorted(RAISED))
def test_each_error_is_its_status_in_json_and_as_a_page_and_never_a_sentry_event(raising_app, sentry_receiver,
                                                                                  name):
    _, status, detail, headers = RAISED[name]
    client = raising_app.test_client()
    answer = client.get(f"/test-api/{name}")
    assert answer.status_code == status and answer.is_json
    assert answer.get_json()["detail"] == detail
    assert {k: answer.headers.get(k) for k in headers} == headers
    if name == "job-pending":
        assert answer.get_json()["job_id"] == "sync-seller-3"

    sign_in(client)
    page = client.get(f"/test-page/{name}")
    assert page.status_code == status and page.mimetype == "text/html"
    assert f'<p class="status-code">{status}</p>' in page.text
    assert {k: page.headers.get(k) for k in headers} == headers

    sentry_sdk.flush(timeout=5)
    assert sentry_receiver.events == []


def test_a_missing_chat_page_is_worded_in_the_operators_language(raising_app):
    client = raising_app.test_client()
    sign_in(client)
    english = client.get("/test-page/not-found")
    assert "Chat 7 does not exist." in english.text
    russian = client.get("/test-page/not-found", headers={"Accept-Language": "ru"})
    assert "Chat 7 does not exist." not in russian.text and "7" in russian.text


@pytest.mark.parametrize("name", ["bug", "bad-sql"])
def test_an_unexpected_error_is_a_500_without_its_text_and_one_sentry_event(raising_app, sentry_receiver, name):
    client = raising_app.test_client()
    answer = client.get(f"/test-api/{name}")
    assert answer.status_code == 500
    assert answer.get_json() == {"detail": "Internal server error"}
    sign_in(client)
    page = client.get(f"/test-page/{name}")
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "internal words" not in page.text and "no_such_table" not in page.text
    events = sentry_receiver.wait_for("event", 2, timeout=10)
    assert len(events) == 2
    sentry_sdk.flush(timeout=2)
    assert len(sentry_receiver.events) == 2  # once per failed request, not more
