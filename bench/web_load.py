"""Load on the real web stack: gunicorn with gunicorn.conf.py, driven by wrk.

Used by bench/api.py (latency at 1M messages) and bench/sentry_web.py (what Sentry costs).
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass

from harness import ROOT

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(env: dict, *, port: int | None = None):
    """gunicorn -c gunicorn.conf.py wsgi:app on a free port until the block ends; yields the base URL."""
    port = port or free_port()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "GUNICORN_BIND": f"127.0.0.1:{port}",
                "GUNICORN_ACCESSLOG": "/dev/null", "GUNICORN_LOGLEVEL": "warning", **env}
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                               cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/api/health", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start: {process.stderr.read()[-2000:]}") from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, *, seconds: int = 10, connections: int = 8, threads: int = 2,
        headers: dict[str, str] | None = None) -> Load:
    """One wrk run; raises if wrk is missing (apt-get install wrk)."""
    if shutil.which("wrk") is None:
        raise SystemExit("error: wrk is not installed: apt-get install wrk")
    command = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.M))
    if set(latency) != {"50", "99"}:
        raise RuntimeError(f"wrk printed no latency distribution for {url}:\n{out}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
                p50_ms=_ms(latency["50"]), p99_ms=_ms(latency["99"]),
                non_2xx=int(non_2xx.group(1)) if non_2xx else 0)
