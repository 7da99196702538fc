"""Slow and idle clients against a real gunicorn with no nginx in front (raw sockets): 100
clients sending their headers a byte at a time and 300 idle connections hold no thread,
so a health probe still answers, and so do requests sent in pieces."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from chatcenter.config import PROJECT_ROOT
from tests.test_production import free_port, process_env, stop, wait_for_port

SLOW_CLIENTS = 100
IDLE_CONNECTIONS = 300
PROBE_TIMEOUT = 10.0  # generous: only to turn a stalled server into a failure, not a hang


@pytest.fixture
def web(tmp_path, redis_url):
    port = free_port()
    # Few threads on purpose: 2 processes x 4 threads = 8, far fewer than the slow clients.
    env = process_env(tmp_path, REDIS_URL=redis_url, GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY=2,
                      GUNICORN_THREADS=4, GUNICORN_ACCESSLOG="")
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                               cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, "gunicorn")
        yield port
    finally:
        stop(process)
        log.close()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT)


def probe(port: int, request: bytes = b"GET /api/health HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n",
          pieces: int = 1) -> bytes:
    """Send a request (in `pieces`, a moment apart) and read the whole answer."""
    with connect(port) as sock:
        step = -(-len(request) // pieces)
        for start in range(0, len(request), step):
            sock.sendall(request[start:start + step])
            if pieces > 1:
                time.sleep(0.05)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


class Trickle:
    """Clients that send a request line, then one header byte per interval, forever."""

    def __init__(self, port: int, count: int, interval: float = 0.5):
        self.sockets = [connect(port) for _ in range(count)]
        for sock in self.sockets:
            sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: slow\r\n")
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self) -> None:
        while not self.stopped.wait(self.interval):
            for sock in self.sockets:
                try:
                    sock.send(b"X")
                except OSError:
                    pass  # the server may drop a client that is too slow: that is allowed

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def test_a_probe_answers_while_100_clients_trickle_headers_and_300_sit_idle(web):
    idle = [connect(web) for _ in range(IDLE_CONNECTIONS)]
    slow = Trickle(web, SLOW_CLIENTS)
    try:
        time.sleep(1.0)  # every slow client has been handed to the worker by now
        answers = [probe(web) for _ in range(5)]
    finally:
        slow.close()
        for sock in idle:
            sock.close()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert answer.endswith(b'{"status":"ok"}\n')


def test_a_request_sent_in_pieces_and_a_pipelined_pair_are_still_served(web):
    assert probe(web, pieces=8).startswith(b"HTTP/1.1 200")
    pair = (b"GET /api/health HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /api/health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert probe(web, pair).count(b"HTTP/1.1 200") == 2
