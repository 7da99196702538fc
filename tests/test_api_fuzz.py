"""schemathesis against a live gunicorn: generated requests (valid and invalid) for every
operation in /api/openapi.json. No 500, no answer outside the document, and not one
Sentry event (4xx answers are not errors; there must be no 5xx).

Marked slow (about half a minute here); `make test` and CI run it. Bounded: a fixed seed and a
fixed number of examples per operation.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from chatcenter import create_app
from chatcenter.config import PROJECT_ROOT
from tests.helpers import add_seller, resources
from tests.test_production import free_port, process_env, stop, wait_for_port
from tests.test_queries import make_chat

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 50
SEED = 20261129
CHECKS = (
    "not_a_server_error",            # no 5xx
    "status_code_conformance",       # every status is documented for its operation
    "content_type_conformance",      # and its content type
    "response_headers_conformance",  # required headers (WWW-Authenticate, Location, Retry-After) present
    "response_schema_conformance",   # every body matches its schema
    "negative_data_rejection",       # what the document calls invalid is refused
    "ignored_auth",                  # no operation works without the key
    "unsupported_method",            # other methods: 405
)
# Left out: positive_data_acceptance, which expects any schema-valid input to succeed.
# Here some cannot: a random string is a valid *type* for `cursor` but not a cursor this
# API gave out, a message id for `before` may belong to another chat, and a repeated
# Idempotency-Key with another text is a conflict (all 400/422, as documented).


@pytest.fixture
def live_api(tmp_path, settings, redis_url, sentry_receiver):
    database = settings.database_url  # SQLite, and PostgreSQL when TEST_DATABASE_URL is set
    env = process_env(tmp_path, DATABASE_URL=database, REDIS_URL=redis_url,
                      DEEPSEEK_API_KEY="sk-fuzz-0123456789abcdef0123")
    flask = [sys.executable, "-m", "flask", "--app", "chatcenter"]
    for command in (["db", "upgrade"], ["api-keys", "create", "schemathesis"]):
        done = subprocess.run(flask + command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    key = done.stdout.splitlines()[-1]

    # Something for the generated ids to find: sellers, chats with messages and analyses.
    app = create_app(settings, component="cli")
    try:
        seller = add_seller(app)
        for n in range(1, 6):
            make_chat(app, seller, n, buyer_at=n, seller_at=n + 1 if n % 2 else None,
                      urgency=("high", "low", None)[n % 3])
    finally:
        resources(app).close()

    sentry_receiver.clear()
    port = free_port()
    env.update(GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2", GUNICORN_THREADS="2",
               SENTRY_DSN=sentry_receiver.dsn, SENTRY_TRACES_SAMPLE_RATE="0", SENTRY_ENVIRONMENT="fuzz")
    log = (tmp_path / "gunicorn.log").open("w")
    # No request-line limit here: in production nginx refuses a URL over 4 kB with a JSON 414
    # (deploy/nginx) before gunicorn would with an HTML one; the app must answer the rest.
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--limit-request-line", "0",
                            "wsgi:app"],
                           cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, web, "gunicorn")
        yield {"url": f"http://127.0.0.1:{port}", "key": key, "log": tmp_path / "gunicorn.log"}
    finally:
        stop(web)
        log.close()


def test_schemathesis_finds_no_500_and_no_answer_outside_the_document(live_api, tmp_path, sentry_receiver):
    url, key = live_api["url"], live_api["key"]
    schema = requests.get(f"{url}/api/openapi.json", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert schema.status_code == 200
    schema_file = tmp_path / "openapi.json"
    schema_file.write_text(schema.text)
    report = tmp_path / "cases.ndjson"

    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [str(st), "run", str(schema_file), "--url", url, "-H", f"Authorization: Bearer {key}",
         "--checks", ",".join(CHECKS), "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED),
         # One worker: two threads make hypothesis call ast.parse at once, which CPython
         # 3.11 can fail with "SystemError: AST constructor recursion depth mismatch".
         "--phases", "examples,coverage,fuzzing", "--workers", "1", "--request-timeout", "10",
         "--suppress-health-check", "all", "--report", "ndjson", "--report-ndjson-path", str(report),
         "--warnings", "off"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    print(run.stdout[-700:])  # schemathesis's summary: `pytest -s tests/test_api_fuzz.py` shows it

    # It really exercised the API: every operation, hundreds of cases, all kinds of answers.
    events = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    statuses = _statuses(events)
    assert sum(statuses.values()) >= 300, statuses
    assert {200, 202, 400, 401, 404} <= set(statuses), statuses
    assert not any(status >= 500 for status in statuses), statuses

    sentry_receiver.wait_for("event", 1, timeout=3)  # give a stray event time to arrive
    assert sentry_receiver.events == []
    assert "Traceback" not in live_api["log"].read_text()


def _statuses(events: list[dict]) -> dict[int, int]:
    """How many answers of each status the ndjson report holds."""
    counts: dict[int, int] = {}

    def walk(node):
        if isinstance(node, dict):
            status = node.get("status_code")
            if isinstance(status, int) and "elapsed" in node:
                counts[status] = counts.get(status, 0) + 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(events)
    return counts
