"""Shared fixtures: real Redis, real SQLite/PostgreSQL, a real Sentry receiver.

PostgreSQL runs when TEST_DATABASE_URL is set (CI sets it): every database test then runs
on both backends, each PostgreSQL test in a schema of its own.
"""
from __future__ import annotations

import os
import sys
import uuid
from dataclasses import replace

import pytest
from redis import Redis
from sqlalchemy import create_engine, text

from chatcenter import create_app
from chatcenter.config import Settings
from tests.helpers import WB_TOKEN, overrides


def _redis_url_of_this_process(base: str) -> str:
    """Each pytest-xdist worker flushes a Redis database of its own: gw0 the one named in
    TEST_REDIS_URL, gw1 the next, ... (tests flush their database before and after)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return base
    head, _, db = base.rpartition("/")
    if not db.isdigit():
        raise SystemExit(f"TEST_REDIS_URL must end in a database number to run tests in parallel, got {base!r}")
    return f"{head}/{(int(db) + int(worker[2:])) % 16}"


TEST_REDIS_URL = _redis_url_of_this_process(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13"))
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])


@pytest.fixture(scope="session")
def sentry_receiver():
    from tests.sentry_receiver import SentryReceiver

    receiver = SentryReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(autouse=True)
def _sentry_off_after_test():
    """Each test starts and ends with no active Sentry client (no cross-test leaks)."""
    yield
    if "sentry_sdk" in sys.modules:
        import sentry_sdk

        sentry_sdk.get_client().close(timeout=0)
        sentry_sdk.init(dsn=None)
        # Scopes outlive clients: a user or tag set by one test must not reach the next.
        for scope in (sentry_sdk.get_current_scope(), sentry_sdk.get_isolation_scope(),
                      sentry_sdk.get_global_scope()):
            scope.clear()


@pytest.fixture
def redis_url():
    client = Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield TEST_REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def redis_client(redis_url):
    client = Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chatcenter.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    yield f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def settings(database_url, redis_url) -> Settings:
    # secret_key: the inbox's cookies are signed without writing instance/secret_key.
    return Settings(database_url=database_url, redis_url=redis_url, sentry_environment="test",
                    secret_key="test-secret-key-for-signing-inbox-sessions")


@pytest.fixture
def make_app(settings):
    """Build an app with settings overrides; the schema is created for it."""
    apps = []

    def make(**changes):
        app = create_app(replace(settings, **changes), component="web")
        _create_schema(app.extensions["chatcenter"].db.engine)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["chatcenter"].close()


def _create_schema(engine) -> None:
    from chatcenter.models import Base

    Base.metadata.create_all(engine)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def sentry_app(make_app, sentry_receiver):
    """An app with Sentry on, reporting to the local receiver; DEBUG on for the test routes."""
    sentry_receiver.clear()
    return make_app(sentry_dsn=sentry_receiver.dsn, debug=True, sentry_release="chatcenter@test")


# --- stubs and job apps ----------------------------------------------------------------

@pytest.fixture
def wb_stub():
    from tests.stubs.wb_stub import WBStub

    with WBStub(valid_tokens=(WB_TOKEN,)) as stub:
        yield stub


@pytest.fixture
def deepseek_stub():
    from tests.stubs.deepseek_stub import DeepSeekStub

    with DeepSeekStub() as stub:
        yield stub


@pytest.fixture
def job_settings(settings, wb_stub, deepseek_stub) -> Settings:
    """Settings for job tests: stubs for WB and DeepSeek, retries without waiting."""
    return replace(settings, wb_api_base_url=wb_stub.url, deepseek_api_base_url=deepseek_stub.url,
                   deepseek_api_key=deepseek_stub.api_key, job_retry_delays=(0, 0))


@pytest.fixture
def job_app(make_app, job_settings):
    """An app for job tests, its context pushed as the worker pushes it: jobs can be called."""
    app = make_app(**overrides(job_settings))
    with app.app_context():
        yield app


# --- the operators' API (tests/api_client.py) -------------------------------------------

@pytest.fixture(scope="session")
def openapi_checker():
    """Checks answers against the OpenAPI document the app serves."""
    from chatcenter.web.api.openapi import document
    from tests.api_client import OpenAPIChecker

    return OpenAPIChecker(document)


@pytest.fixture
def make_api(openapi_checker):
    """make_api(app) -> a client for the JSON API with a fresh key; every answer is checked."""
    from tests.api_client import ApiClient, create_key

    def make(app, name: str = "tests"):
        return ApiClient(app, create_key(app, name).key, openapi_checker)

    return make


@pytest.fixture
def api(app, make_api):
    return make_api(app)
