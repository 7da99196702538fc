"""A hand-written fuzz of the health and error paths against a live gunicorn, in raw bytes
(no HTTP library would send most of these): bad methods, bad JSON, oversized bodies and
headers, invalid UTF-8 in path and query. No answer is a 5xx, gunicorn logs no traceback,
and no 4xx reaches Sentry. (schemathesis covers the documented API: tests/test_api_fuzz.py.)"""
from __future__ import annotations

import json
import socket

from tests.test_api_fuzz import live_api  # noqa: F401  (the fixture: gunicorn, a key, Sentry on)

PATHS = ["/api/health", "/api/health/ready", "/api/health/sentry-test", "/api/health/sentry-test/worker",
         "/api/sellers", "/api/sellers/1/sync", "/api/chats/1/reply", "/api/jobs/reply-1", "/no/such/path", "/"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "FOO"]
BAD_BODIES = [b"{", b"[]", b"null", b'{"text": 1}', b'{"text": "\xff\xfe"}', b'{"text": "\\ud800"}',
              b"\x00" * 64, b'{"text": "a"}' * 1000, json.dumps({"text": "a" * 2_000_000}).encode()]
BAD_TARGETS = [b"/api/health?\xff\xfe=\xc3\x28", b"/api/\xff\xfe", b"/api/chats?limit=%ff%fe",
               b"/api/chats?cursor=%c3%28", b"/api/chats/%ff", b"/api/jobs/%ed%a0%80", b"/%00",
               b"/api/chats?" + b"a=1&" * 2000, b"/" + b"x" * 5000, b"//api//health", b"/api/health/../health"]


def send(port: int, raw: bytes) -> int:
    """Send raw bytes as one request; the answer's status (0: the server closed at once)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):  # it answered before reading all of it
            pass
        head = b""
        try:
            while b"\r\n" not in head and (chunk := sock.recv(4096)):
                head += chunk
        except ConnectionResetError:
            pass
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0


def request(target: bytes, method: bytes = b"GET", headers: dict[bytes, bytes] | None = None,
            body: bytes = b"") -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: fuzz", b"Connection: close"]
    lines += [name + b": " + value for name, value in (headers or {}).items()]
    if body:
        lines += [b"Content-Type: application/json", b"Content-Length: " + str(len(body)).encode()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def test_health_and_error_paths_never_answer_5xx_nor_report_4xx(live_api, sentry_receiver):
    port = int(live_api["url"].rsplit(":", 1)[1])
    auth = {b"Authorization": b"Bearer " + live_api["key"].encode()}
    statuses: dict[str, int] = {}
    for path in PATHS:
        for method in METHODS:
            statuses[f"{method} {path}"] = send(port, request(path.encode(), method.encode(), auth))
    for n, body in enumerate(BAD_BODIES):
        for path in (b"/api/chats/1/reply", b"/api/sellers/1/sync", b"/api/health"):
            statuses[f"body {n} to {path.decode()}"] = send(port, request(path, b"POST", auth, body))
    for n, target in enumerate(BAD_TARGETS):
        statuses[f"target {n}"] = send(port, request(target, headers=auth))
    huge_headers = {
        "one 10 KB header": {b"X-Big": b"a" * 10_000},
        "200 headers": {b"X-H%d" % i: b"v" for i in range(200)},
        "bad header bytes": {b"X-Bad": b"\xff\xfe\x00"},
        "bad key bytes": {b"Authorization": b"Bearer \xff\xfe"},
        "bad content-length": {b"Content-Length": b"-1"},
        "bad chunking": {b"Transfer-Encoding": b"chunked, gzip"},
    }
    for name, headers in huge_headers.items():
        statuses[name] = send(port, request(b"/api/health", b"POST", headers))
    statuses["no key"] = send(port, request(b"/api/sellers"))
    statuses["garbage request line"] = send(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")

    server_errors = {case: status for case, status in statuses.items() if status >= 500}
    assert server_errors == {}
    assert {200, 400, 401, 404, 405, 413} <= set(statuses.values()), statuses
    sentry_receiver.wait_for("event", 1, timeout=3)  # give a stray event time to arrive
    assert sentry_receiver.events == []
    assert "Traceback" not in live_api["log"].read_text()
