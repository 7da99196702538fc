"""The database away (issue 28 §7): the API and the pages answer 503 with Retry-After, as for
a Redis outage, with one log line per request, no traceback and no Sentry event. The
database is really unreachable: a PostgreSQL URL at a port nobody listens on, or a SQLite
path that is a directory."""
from __future__ import annotations

import logging
from dataclasses import replace

import pytest
import sentry_sdk
from sqlalchemy.engine import make_url

from chatcenter import create_app
from tests.inbox_support import add_operator, sign_in

RETRY_AFTER = "5"
DETAIL = "The database is unavailable; try again in a few seconds"


@pytest.fixture
def dead_database_url(tmp_path, database_url):
    """The backend of this test run (SQLite, or PostgreSQL with TEST_DATABASE_URL), unreachable."""
    if database_url.startswith("sqlite"):
        gone = tmp_path / "database-gone"
        gone.mkdir()  # a directory where the file should be: SQLite cannot open it
        return f"sqlite:///{gone}"
    return make_url(database_url).set(host="127.0.0.1", port=1).render_as_string(hide_password=False)


@pytest.fixture
def outage_app(settings, dead_database_url, sentry_receiver):
    sentry_receiver.clear()
    app = create_app(replace(settings, database_url=dead_database_url, sentry_dsn=sentry_receiver.dsn,
                             sentry_traces_sample_rate=0.0), component="web")
    yield app
    app.extensions["chatcenter"].close()


def _one_line_each(caplog, requests: int) -> None:
    lines = [r for r in caplog.records if r.name == "chatcenter.errors"]
    assert len(lines) == requests, [r.getMessage() for r in caplog.records]
    assert all("answered 503, The database is unavailable" in r.getMessage() for r in lines)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_the_api_answers_503_with_retry_after_when_the_database_is_away(outage_app, sentry_receiver, caplog):
    caplog.set_level(logging.INFO)
    client = outage_app.test_client()
    headers = {"Authorization": "Bearer cc_" + "k" * 43}
    answers = [client.get("/api/chats", headers=headers), client.get("/api/chats/1", headers=headers),
               client.get("/api/sellers", headers=headers),
               client.post("/api/chats/1/reply", json={"text": "Здравствуйте"}, headers=headers)]
    for answer in answers:
        assert answer.status_code == 503, answer.get_data(as_text=True)
        assert answer.headers["Retry-After"] == RETRY_AFTER
        assert answer.get_json() == {"detail": DETAIL}
    _one_line_each(caplog, len(answers))
    assert client.get("/api/health/ready").status_code == 503  # the readiness probe agrees
    sentry_sdk.flush(timeout=5)
    assert sentry_receiver.events == []


def test_the_pages_answer_503_with_retry_after_when_the_database_is_away(make_app, settings, outage_app,
                                                                         sentry_receiver, caplog):
    up = make_app()  # signed in while the database answered; the same cookie after it went away
    add_operator(up)
    signed_in = up.test_client()
    sign_in(signed_in)
    cookie = signed_in.get_cookie("chatcenter_session").value
    client = outage_app.test_client()
    client.set_cookie("chatcenter_session", cookie)
    caplog.set_level(logging.INFO)
    for path in ("/", "/chats/1", "/sellers"):
        page = client.get(path)
        assert page.status_code == 503 and page.mimetype == "text/html", (path, page.status_code)
        assert page.headers["Retry-After"] == RETRY_AFTER
        assert "Temporarily unavailable" in page.text
        assert "A service the inbox needs is unavailable" in page.text
    _one_line_each(caplog, 3)
    sentry_sdk.flush(timeout=5)
    assert sentry_receiver.events == []
