"""Shared fixtures: real Redis, real SQLite/PostgreSQL, a real Sentry receiver.

PostgreSQL runs when TEST_DATABASE_URL is set (CI sets it): every database test then runs
on both backends, each PostgreSQL test in a schema of its own.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import fields, replace

import pytest
from redis import Redis
from sqlalchemy import create_engine, text

from chatcenter import create_app
from chatcenter.config import Settings

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
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
    return Settings(database_url=database_url, redis_url=redis_url, sentry_environment="test")


@pytest.fixture
def make_app(settings):
    """Build an app with settings overrides; the schema is created for it."""
    apps = []

    def make(**overrides):
        app = create_app(replace(settings, **overrides))
        runtime = app.extensions["chatcenter"]
        _create_schema(runtime.db.engine)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["chatcenter"].close()


def _create_schema(engine) -> None:
    try:
        from chatcenter.models import Base
    except ImportError:  # no tables yet
        return
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


# --- stubs and workers ------------------------------------------------------------------

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


# A WB token shaped like the real ones (a JWT), so privacy filters meet the real thing.
WB_TOKEN = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IjIwMjUwNTIwdjEiLCJ0eXAiOiJKV1QifQ."
    "eyJlbnQiOjEsImV4cCI6MTc5OTk5OTk5OSwiaWQiOiJ0ZXN0LXRva2VuIiwic2lkIjoiNDIifQ."
    "c2lnbmF0dXJlLW9mLXRoZS10ZXN0LXRva2VuLW5vdC1yZWFs"
)


@pytest.fixture
def job_settings(settings, wb_stub, deepseek_stub) -> Settings:
    """Settings for job tests: stubs for WB and DeepSeek, retries without waiting."""
    return replace(settings, wb_api_base_url=wb_stub.url, deepseek_api_base_url=deepseek_stub.url,
                   deepseek_api_key=deepseek_stub.api_key, job_retry_delays=(0, 0))


def overrides(settings: Settings, **changes) -> dict:
    """All of `settings` as make_app keyword arguments, with `changes` applied."""
    return {**{f.name: getattr(settings, f.name) for f in fields(settings)}, **changes}


@pytest.fixture
def job_app(make_app, job_settings):
    return make_app(**overrides(job_settings))


def add_seller(app, name="Test shop", token=WB_TOKEN) -> int:
    from chatcenter.models import Seller

    with app.extensions["chatcenter"].db.session() as session:
        seller = Seller(name=name, wb_token=token)
        session.add(seller)
        session.flush()
        return seller.id


def run_jobs(app, queues=("sync", "analysis", "default")) -> None:
    """Run every queued job (retries included) in this process, as a worker would."""
    from rq import Queue, SimpleWorker

    redis = app.extensions["chatcenter"].redis
    worker = SimpleWorker([Queue(q, connection=redis) for q in queues], connection=redis)
    worker.work(burst=True, with_scheduler=False, max_jobs=100)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a separate process needs to run with exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "DEEPSEEK_", "WB_"))}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, tuple):
            value = ",".join(map(str, value))
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f.name.upper()] = str(value)
    return env


def run_worker_process(settings: Settings, *queues: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python worker.py --burst`: the real worker, forking a work-horse per job."""
    from chatcenter.config import PROJECT_ROOT

    return subprocess.run([sys.executable, "worker.py", "--burst", *queues], cwd=PROJECT_ROOT,
                          env=settings_env(settings), capture_output=True, text=True, timeout=timeout)
