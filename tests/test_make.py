"""`make run`, `make test` and `make bench` as a developer types them (in a terminal)."""
from __future__ import annotations

import os
import pty
import select
import shutil
import socket
import subprocess
import sys
import time

import pytest

from chatcenter.config import PROJECT_ROOT
from tests.conftest import TEST_REDIS_URL

# The virtual environment running these tests is the one make uses; never reinstall it here.
VENV = sys.prefix
MAKE = ["make", "--no-print-directory", "-o", f"{VENV}/.installed", "-o", f"{VENV}/.installed-dev",
        f"VENV={VENV}"]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def make(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MAKE, *args], cwd=PROJECT_ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120)


class Terminal:
    """A command on a pseudo-terminal: Ctrl-C goes where the terminal sends it."""

    def __init__(self, argv: list[str], env: dict):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes the command
            os.chdir(PROJECT_ROOT)
            os.execvpe(argv[0], argv, env)
        self.output = b""

    def read_for(self, seconds: float) -> bool:
        """Collect output for `seconds`; False once the terminal has closed."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return False
                if not chunk:
                    return False
                self.output += chunk
        return True

    def ctrl_c(self) -> None:
        os.write(self.fd, b"\x03")

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read_for(0.2)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, 9)
        raise AssertionError(f"still running after {timeout} s:\n{self.text}")

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="make run starts redis-server from PATH")
def test_make_run_serves_on_port_and_ctrl_c_stops_everything_and_its_redis(tmp_path):
    port, redis_port = free_port(), free_port()  # nothing answers there: make run starts its Redis
    env = {**os.environ, "PORT": str(port), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}", "WEB_CONCURRENCY": "1", "SENTRY_DSN": ""}
    # Another `make run`'s pid files (the developer's own, while `make test` runs this test):
    # this run must neither remove them nor stop their Redis.
    others = [PROJECT_ROOT / "instance" / name for name in ("redis-run.pid", "redis-run.1.pid")]
    for other in others:
        other.parent.mkdir(exist_ok=True)
        other.write_text("999999999\n")
    term = Terminal([*MAKE, "run"], env)
    deadline = time.monotonic() + 60
    while not listening(port):
        assert term.read_for(0.2) and time.monotonic() < deadline, term.text
    assert listening(redis_port)

    term.read_for(1)
    term.ctrl_c()
    status = term.wait(timeout=60)

    assert status == 0, term.text
    assert "make: ***" not in term.text and "Traceback" not in term.text
    assert "stopped the Redis that make run started" in term.text
    assert not listening(port) and not listening(redis_port)
    assert all(other.read_text() == "999999999\n" for other in others)
    for other in others:
        other.unlink()


REDIS_SERVER = pytest.mark.skipif(shutil.which("redis-server") is None, reason="starts redis-server from PATH")
PING = f"{sys.executable} -c 'import sys, redis; redis.Redis.from_url(sys.argv[1]).ping()'"


@REDIS_SERVER
def test_with_redis_stops_only_the_redis_it_started_and_keeps_the_status():
    # What `make test` does: a Redis for the run when none answers, stopped after it. Inside,
    # a second run finds that Redis answering and leaves it alone (as `make test` leaves
    # `make run`'s Redis alone).
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    before = set((PROJECT_ROOT / "instance").glob("redis-with.*.pid"))  # `make test`'s own, if any
    inner = f"scripts/with-redis {url} true && {PING} {url} && exit 3"
    done = subprocess.run(["scripts/with-redis", url, "sh", "-c", inner], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode == 3, done.stderr
    assert done.stderr.count(f"stopped the Redis started for this run ({url})") == 1
    assert not listening(port)
    assert set((PROJECT_ROOT / "instance").glob("redis-with.*.pid")) <= before


@REDIS_SERVER
def test_ensure_redis_honours_a_redis_url_set_only_in_dot_env(tmp_path):
    port = free_port()
    (tmp_path / ".env").write_text(f"# the app's settings\nREDIS_URL=redis://127.0.0.1:{port}/0\n")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    pidfile = tmp_path / "redis.pid"
    done = subprocess.run([str(PROJECT_ROOT / "scripts" / "ensure-redis")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={**env, "PYTHON": sys.executable, "REDIS_PIDFILE": str(pidfile)})
    try:
        assert done.returncode == 0, done.stderr
        assert f"Starting redis-server on 127.0.0.1:{port}" in done.stderr
        assert listening(port)
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), 15)


def test_make_test_checks_the_tests_redis_not_the_apps():
    closed = free_port()
    # 127.0.0.2 is not "local" to scripts/ensure-redis, so it says so instead of starting one.
    result = make("test", f"TEST_REDIS_URL=redis://127.0.0.2:{closed}/13", REDIS_URL=TEST_REDIS_URL)
    assert result.returncode != 0
    assert f"Redis does not answer on redis://127.0.0.2:{closed}/13" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_make_bench_without_its_script_says_so_and_succeeds():
    result = make("bench", "BENCH_SCRIPT=bench/not_there.py", REDIS_URL=TEST_REDIS_URL)
    assert result.returncode == 0, result.stderr
    assert "no benchmarks yet (bench/not_there.py is missing)" in result.stderr


def test_make_bench_runs_bench_run_all():
    # An unknown name: run_all.py answers at once, which proves make reached it.
    result = make("bench", "BENCH=no_such_bench", REDIS_URL=TEST_REDIS_URL)
    assert result.returncode != 0
    assert "unknown benchmark(s) no_such_bench" in result.stderr
