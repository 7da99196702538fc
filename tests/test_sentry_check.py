"""`flask sentry-check` against the local Sentry receiver, with a real worker process."""
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chatcenter.config import PROJECT_ROOT
from tests.sentry_receiver import PUBLIC_KEY


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env_for(tmp_path, redis_url):
    def make(dsn: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "DEEPSEEK_", "WB_"))}
        env.update(SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="test", SENTRY_RELEASE="chatcenter@test",
                   SENTRY_TRACES_SAMPLE_RATE="0", REDIS_URL=redis_url, DEBUG="false",
                   DATABASE_URL=f"sqlite:///{tmp_path / 'check.db'}")
        return env

    return make


@pytest.fixture
def worker(tmp_path):
    """`python worker.py default`, the real forking worker, until the test ends."""
    started = []

    def start(env: dict) -> Path:
        log = tmp_path / f"worker-{len(started)}.log"
        with log.open("w") as out:
            started.append(subprocess.Popen([sys.executable, "worker.py", "default"], cwd=PROJECT_ROOT,
                                            env=env, stdout=out, stderr=subprocess.STDOUT))
        return log

    yield start
    for proc in started:
        proc.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def run_check(env: dict, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "chatcenter", "sentry-check",
                           "--timeout", str(timeout)],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=90)


def check_id(output: str) -> str:
    return re.search(r"check id: ([0-9a-f]{32})", output).group(1)


def test_both_events_are_accepted(env_for, worker, sentry_receiver):
    sentry_receiver.clear()
    env = env_for(sentry_receiver.dsn)
    worker_log = worker(env)
    result = run_check(env)

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^command line: accepted by Sentry \(HTTP 200\), event [0-9a-f]{32}$", out, re.M), out
    assert re.search(r"^worker: accepted by Sentry \(HTTP 200\), event [0-9a-f]{32}$", out, re.M), out
    assert f"Sentry server: http://127.0.0.1:{sentry_receiver.port} (project 1), environment: test" in out
    assert PUBLIC_KEY not in out + result.stderr

    # The receiver holds what Sentry would: one event per side, each from its own client.
    tag = check_id(out)
    events = {e["tags"]["component"]: e for e in sentry_receiver.wait_for("event", 2)
              if e.get("tags", {}).get("sentry_check") == tag}
    assert set(events) == {"cli", "worker"}
    for side, event in events.items():
        assert event["environment"] == "test" and event["release"] == "chatcenter@test"
        assert event["exception"]["values"][-1]["type"] == "SentryCheckError"
    assert "rq-job" in events["worker"]["extra"]  # captured inside the job, by the worker's client
    assert events["worker"]["extra"]["rq-job"]["job_id"] == f"sentry-check-{tag}"

    # The worker's own line about it carries the job id.
    assert re.search(rf"sentry-check from the worker: accepted .* job_id=sentry-check-{tag}$",
                     worker_log.read_text(), re.M), worker_log.read_text()


def test_a_refusing_server_fails_the_check(env_for, worker):
    env = env_for(f"http://{PUBLIC_KEY}@127.0.0.1:{closed_port()}/1")
    worker(env)
    result = run_check(env)

    assert result.returncode == 1
    assert "command line: NOT delivered: connection refused" in result.stdout
    assert "worker: NOT delivered: connection refused" in result.stdout
    assert "FAILED" in result.stderr
    assert PUBLIC_KEY not in result.stdout + result.stderr


def test_a_non_2xx_answer_and_a_missing_worker_are_reported(sentry_app, sentry_receiver, redis_client):
    sentry_receiver.status = 429
    result = sentry_app.test_cli_runner().invoke(args=["sentry-check", "--timeout", "1"])

    assert result.exit_code == 1
    assert re.search(r"^command line: REJECTED by Sentry \(HTTP 429: rate limited", result.output, re.M)
    assert "worker: NOT delivered: no worker picked up the test job within 1 s" in result.output
    assert redis_client.llen("rq:queue:default") == 0  # removed, so it never runs late
    assert PUBLIC_KEY not in result.output


def test_a_worker_without_sentry_is_reported(sentry_app, sentry_receiver, env_for, worker):
    worker(env_for(""))
    result = sentry_app.test_cli_runner().invoke(args=["sentry-check", "--timeout", "20"])

    assert result.exit_code == 1
    assert "command line: accepted by Sentry (HTTP 200)" in result.output
    assert "worker: NOT delivered: Sentry is off in the worker (SENTRY_DSN is empty there)" in result.output


def test_without_a_dsn_sentry_is_off_and_the_check_passes(runner):
    result = runner.invoke(args=["sentry-check"])
    assert result.exit_code == 0
    assert result.output.strip() == "Sentry is off: SENTRY_DSN is empty, so nothing is sent (no check needed)."


def test_the_cli_leaves_its_sentry_client_as_it_found_it(sentry_app, sentry_receiver):
    import sentry_sdk

    transport = sentry_sdk.get_client().transport
    sentry_app.test_cli_runner().invoke(args=["sentry-check", "--timeout", "0.5"])
    assert sentry_sdk.get_client().transport is transport


def test_redis_down_is_reported_without_its_url(make_app, sentry_receiver):
    sentry_receiver.clear()
    app = make_app(sentry_dsn=sentry_receiver.dsn, redis_url=f"redis://:s3cret-pw@127.0.0.1:{closed_port()}/0")
    result = app.test_cli_runner().invoke(args=["sentry-check", "--timeout", "1"])

    assert result.exit_code == 1
    assert "command line: accepted by Sentry (HTTP 200)" in result.output
    assert "worker: NOT delivered: could not enqueue the test job: Redis error ConnectionError" in result.output
    assert "s3cret-pw" not in result.output
