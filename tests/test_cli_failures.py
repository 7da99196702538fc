"""Operators see one line, not a traceback: every failure of a `flask` command, `worker.py`
and the poller (`python -m chatcenter.poller`) ends with one line on stderr and exit status 1 (permanent) or 75
(transient, or skipped); `--verbose` adds the traceback. Real processes throughout.
"""
from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import replace

import pytest

from chatcenter.config import PROJECT_ROOT
from chatcenter.leases import Lease
from chatcenter.queues import SYNC_JOB
from tests.helpers import add_seller, settings_env
from tests.stubs import deepseek_stub as ds

EX_TEMPFAIL = 75
PASSWORD = "s3cret-pw-never-printed"


def run(settings, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """A real process: `flask --app chatcenter ARGS`, or `python SCRIPT ARGS` for a .py/-m."""
    command = list(args) if args[0] in ("worker.py", "-m") else ["-m", "flask", "--app", "chatcenter", *args]
    return subprocess.run([sys.executable, *command], cwd=PROJECT_ROOT, env=settings_env(settings),
                          input=input, capture_output=True, text=True, timeout=timeout)


def one_line(result: subprocess.CompletedProcess) -> str:
    """The failure's line; fails the test when there is a traceback or more than one line."""
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_database(settings):
    return replace(settings, database_url=f"postgresql+psycopg://chatcenter:{PASSWORD}@127.0.0.1:{closed_port()}/chatcenter")


@pytest.fixture
def dead_redis(settings):
    return replace(settings, redis_url=f"redis://:{PASSWORD}@127.0.0.1:{closed_port()}/0")


@pytest.mark.parametrize("args", [("sellers", "list"), ("db", "upgrade"), ("sync", "1"), ("chats", "list"),
                                  ("api-keys", "list"), ("operators", "list")])
def test_an_unreachable_database_is_one_line_naming_it(dead_database, args):
    result = run(dead_database, *args)
    assert result.returncode == EX_TEMPFAIL
    port = dead_database.database_url.rsplit(":", 1)[1].split("/")[0]
    assert one_line(result) == (f"error: cannot reach the database at postgresql+psycopg://chatcenter:***@127.0.0.1:"
                                f"{port}/chatcenter (OperationalError): is it running? check DATABASE_URL")
    assert result.stdout == ""


def test_an_unreachable_redis_is_one_line_naming_it(make_app, dead_redis):
    seller_id = add_seller(make_app())  # the database is fine; only Redis is away
    result = run(dead_redis, "sync", str(seller_id))
    assert result.returncode == EX_TEMPFAIL
    assert one_line(result).startswith("error: the job queue (Redis) is unavailable: cannot reach Redis at "
                                       "redis://:***@127.0.0.1:")
    assert "check REDIS_URL" in result.stderr


@pytest.mark.parametrize("process", [("worker.py", "--burst"), ("-m", "chatcenter.poller")])
def test_worker_and_cron_check_the_database_at_start(dead_database, process):
    result = run(dead_database, *process)
    assert result.returncode == 1
    assert one_line(result).startswith("error: cannot reach the database at postgresql+psycopg://chatcenter:***@")


@pytest.mark.parametrize("process", [("worker.py", "--burst"), ("-m", "chatcenter.poller")])
def test_worker_and_cron_check_redis_at_start(make_app, dead_redis, process):
    make_app()
    result = run(dead_redis, *process)
    assert result.returncode == 1
    assert one_line(result).startswith("error: cannot reach Redis at redis://:***@127.0.0.1:")


def test_a_schema_not_upgraded_says_to_upgrade(settings):
    result = run(settings, "sellers", "list")  # the database answers, but has no tables
    assert result.returncode == 1
    assert one_line(result).endswith("is the schema up to date? run `flask db upgrade`")


def test_sync_now_against_a_failing_wb_is_one_line_and_transient(job_app, job_settings, wb_stub):
    seller_id = add_seller(job_app)
    wb_stub.fail_next(500, count=100)
    result = run(job_settings, "sync", str(seller_id), "--now")
    assert result.returncode == EX_TEMPFAIL
    assert one_line(result).startswith("error: ")
    assert "500" in result.stderr


def test_verbose_adds_the_traceback(job_app, job_settings, wb_stub):
    seller_id = add_seller(job_app)
    wb_stub.fail_next(500, count=100)
    result = run(job_settings, "sync", str(seller_id), "--now", "--verbose")
    assert result.returncode == EX_TEMPFAIL
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_analyze_now_with_a_refused_key_is_permanent(job_app, job_settings, wb_stub, deepseek_stub):
    chat = wb_stub.add_chat(text="")
    wb_stub.add_event(chat["chatID"], text="Где заказ?", sender="client", is_new_chat=True)
    seller_id = add_seller(job_app)
    assert run(job_settings, "sync", str(seller_id), "--now").returncode == 0
    deepseek_stub.script(ds.error(401))
    result = run(job_settings, "analyze", "1", "--now")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # README: one line
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: DeepSeek rejected the API key (401)") and last.endswith(
        "check DEEPSEEK_API_KEY, DEEPSEEK_API_BASE_URL and the DeepSeek account")
    assert deepseek_stub.api_key not in result.stderr


def test_a_sync_skipped_because_another_runs_exits_75_and_says_so(job_app, job_settings, redis_client):
    seller_id = add_seller(job_app)
    lease = Lease(redis_client, SYNC_JOB.job_id(seller_id))
    assert lease.acquire()
    try:
        result = run(job_settings, "sync", str(seller_id), "--now")
    finally:
        lease.release()
    assert result.returncode == EX_TEMPFAIL
    assert one_line(result) == (f"error: sync of seller {seller_id} skipped: another run of "
                                f"sync-seller-{seller_id} is in progress")


def test_results_go_to_stdout_and_logs_to_stderr(job_app, job_settings, wb_stub):
    chat = wb_stub.add_chat(text="")
    wb_stub.add_event(chat["chatID"], text="Где заказ?", sender="client", is_new_chat=True)
    seller_id = add_seller(job_app)
    result = run(job_settings, "sync", str(seller_id), "--now")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"seller {seller_id}: 1 chats and 1 messages added in 1 pages, "
                                          "1 analyses enqueued"]


def test_db_upgrade_prints_its_result_and_no_alembic_lines(tmp_path, settings, sentry_receiver):
    fresh = replace(settings, database_url=f"sqlite:///{tmp_path / 'fresh.db'}", sentry_dsn=sentry_receiver.dsn)
    result = run(fresh, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    head = sorted(path.name[:4] for path in (PROJECT_ROOT / "chatcenter" / "migrations" / "versions").glob("0*.py"))[-1]
    assert result.stdout.splitlines() == [f"database schema created (revision {head})"]
    again = run(fresh, "db", "upgrade")
    assert again.stdout.splitlines() == [f"database schema is up to date (revision {head})"]
    assert "alembic" not in result.stdout + result.stderr
    assert "Sentry initialized" not in result.stdout + result.stderr  # only the web app says that


def test_every_command_of_ours_has_the_one_line_failure_handler(app):
    import click

    def leaves(command, path=()):
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from leaves(sub, (*path, name))
        else:
            yield " ".join(path), command

    # app.cli holds the app's own commands only (flask's run, shell and routes live elsewhere).
    commands = [leaf for name, command in app.cli.commands.items() for leaf in leaves(command, (name,))]
    assert len(commands) >= 14
    without = [path for path, command in commands if "verbose" not in {p.name for p in command.params}]
    assert without == []
