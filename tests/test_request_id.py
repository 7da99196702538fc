"""Request ids: taken or generated, echoed, on g, in log records and as a Sentry tag."""
import io
import logging
import os
import re
import subprocess
import sys

import pytest
from flask import g

from chatcenter.config import PROJECT_ROOT
from chatcenter.web.request_id import HEADER
from chatcenter.observability.logs import ContextFormatter, LogContextFilter, install_log_context

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def id_app(app):
    @app.get("/_test/request-id")
    def show_request_id():
        logging.getLogger("chatcenter.test").warning("inside the request")
        return {"request_id": g.request_id}

    return app


def test_a_sane_incoming_id_is_kept_on_g_and_the_response(id_app):
    response = id_app.test_client().get("/_test/request-id", headers={HEADER: "req-2026.11_abcDEF"})
    assert response.headers[HEADER] == "req-2026.11_abcDEF"
    assert response.get_json() == {"request_id": "req-2026.11_abcDEF"}


def test_without_an_id_each_request_gets_a_new_one(id_app):
    client = id_app.test_client()
    first, second = (client.get("/_test/request-id") for _ in range(2))
    assert GENERATED.fullmatch(first.headers[HEADER])
    assert first.get_json()["request_id"] == first.headers[HEADER]
    assert first.headers[HEADER] != second.headers[HEADER]


@pytest.mark.parametrize("forged", [
    "short",  # under 8 characters
    "x" * 129,  # over 128
    "abc def ghi",  # space: would split a key=value log line
    'abcdefgh"status=200',  # quote and a fake field
    "abcdefgh\tstatus=500",
    "abcdéfghij",  # non-ASCII
])
def test_an_odd_incoming_id_is_replaced(id_app, forged):
    response = id_app.test_client().get("/_test/request-id", headers={HEADER: forged})
    assert GENERATED.fullmatch(response.headers[HEADER])
    assert response.get_json()["request_id"] == response.headers[HEADER]


@pytest.mark.parametrize("path, method, status", [("/api/nowhere", "get", 404), ("/api/health", "post", 405)])
def test_error_answers_carry_the_id_too(client, path, method, status):
    response = getattr(client, method)(path, headers={HEADER: "abcdef123456"})
    assert response.status_code == status
    assert response.headers[HEADER] == "abcdef123456"


def test_log_records_carry_the_request_id(id_app):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(logging.Formatter("%(message)s request_id=%(request_id)s"))
    logger = logging.getLogger("chatcenter.test")
    logger.addHandler(handler)
    try:
        id_app.test_client().get("/_test/request-id", headers={HEADER: "trace-me-0001"})
        logger.warning("outside any request")
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "inside the request request_id=trace-me-0001",
        "outside any request request_id=-",
    ]


def _job_that_logs():
    logging.getLogger("jobs.test").warning("working\nsecond line")


def test_lines_logged_inside_a_job_carry_the_job_id(redis_client):
    from rq import Queue, SimpleWorker

    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # a plain handler, as basicConfig makes
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    try:
        install_log_context()
        install_log_context()  # idempotent: one suffix, not two
        assert isinstance(handler.formatter, ContextFormatter)
        queue = Queue("default", connection=redis_client)
        queue.enqueue(_job_that_logs, job_id="log-check-1")
        SimpleWorker([queue], connection=redis_client).work(burst=True, with_scheduler=False)
        logging.getLogger("jobs.test").warning("no job now")
    finally:
        root.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    # The suffix goes on the first line, before any continuation or traceback.
    assert "WARNING jobs.test: working job_id=log-check-1" in lines
    assert lines[lines.index("WARNING jobs.test: working job_id=log-check-1") + 1] == "second line"
    assert "WARNING jobs.test: no job now" in lines


def test_job_id_filter_outside_a_job_gives_a_dash():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    assert LogContextFilter().filter(record) and record.job_id == "-"


def test_the_id_is_a_sentry_tag_on_the_request_error(sentry_app, sentry_receiver):
    import sentry_sdk

    response = sentry_app.test_client().get("/api/health/sentry-test", headers={HEADER: "abc123def456"})
    assert response.status_code == 500
    assert response.headers[HEADER] == "abc123def456"
    sentry_sdk.flush(timeout=5)
    (event,) = sentry_receiver.wait_for("event", 1)
    assert event["tags"]["request_id"] == "abc123def456"


def test_the_tag_stays_with_its_request(sentry_app, sentry_receiver):
    import sentry_sdk

    sentry_app.test_client().get("/api/health", headers={HEADER: "first-request-id"})
    sentry_sdk.capture_message("captured outside any request")
    sentry_sdk.flush(timeout=5)
    (event,) = sentry_receiver.wait_for("event", 1)
    assert "request_id" not in event.get("tags", {})


def test_request_ids_keep_sentry_sdk_unimported_when_sentry_is_off():
    code = (
        "import sys\n"
        "from chatcenter import create_app\n"
        "r = create_app().test_client().get('/api/health', headers={'X-Request-ID': 'abcdef123456'})\n"
        "assert r.headers['X-Request-ID'] == 'abcdef123456'\n"
        "print('sentry_sdk' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    env.update(SENTRY_DSN="", DATABASE_URL="sqlite:///:memory:")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
