"""A local DeepSeek chat-completions server for tests, faults included.

Usage::

    from tests.stubs import deepseek_stub as ds

    with ds.DeepSeekStub() as stub:                  # 127.0.0.1, random port
        client = DeepSeekClient(stub.url, stub.api_key, "deepseek-v4-flash")
        stub.script(ds.error(503), ds.blank_content())   # next two answers, in order
        ...                                               # then the default good answer
        stub.requests[0].body["messages"]                 # what the client sent

Only POST /chat/completions exists. A wrong or missing Bearer key gets a 401 and does not
use up a scripted behaviour. Every request to the endpoint is recorded in `stub.requests`
as a `RecordedRequest` (`headers`: case-insensitive mapping, `body`: parsed JSON or None).

Behaviours, each used by exactly one request (FIFO); when none is left the stub answers
`ok()`:

- `ok(content=None, *, finish_reason="stop", usage=None)`: 200 completion. `content` is a
  dict (sent as JSON text) or a raw str; None means `stub.default_content`.
- `blank_content()`: 200 with content "" (a documented JSON-mode quirk).
- `invalid_json_content()`: 200 whose content is not JSON.
- `wrong_enum()`: 200 with valid JSON but sentiment "furious".
- `slow_blank_lines(seconds, then=None, *, interval=0.2)`: 200 headers at once, then "\\n"
  every `interval` s for `seconds`, then `then` (a 200 behaviour above; default `ok()`), as
  DeepSeek does under load.
- `error(status, message=None, *, headers=None)`: OpenAI-shaped error
  `{"error": {"message", "type", "code"}}` (400, 401, 402, 422, 429, 500, 502, 503, ...).
- `hang(seconds)`: send nothing for `seconds`, then drop the connection.
- `disconnect()`: drop the connection without answering.

`stub.responder`, when set, is called with each request's parsed body once the script is
used up and may return a behaviour (e.g. an `ok(...)` chosen from the chat's text) or None
for the default answer.

`stub.default_content` (dict or str) and `stub.model` may be changed; `reset()` clears the
script and the recorded requests and restores both. `pending()` says how many scripted
behaviours are still unused. All of it is thread-safe. `stop()` wakes sleeping behaviours.
"""
from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from requests.structures import CaseInsensitiveDict

DEFAULT_API_KEY = "sk-test-3f9a1c0d5e7b4a2c8d6e0f1a2b3c4d5e"
DEFAULT_MODEL = "deepseek-v4-flash"
DEFAULT_CONTENT = {
    "sentiment": "negative",
    "category": "delivery",
    "urgency": "high",
    "summary": "Покупатель жалуется, что заказ задерживается на неделю.",
    "suggested_reply": "Здравствуйте! Приносим извинения за задержку, мы уже уточняем статус заказа.",
}
DEFAULT_USAGE = {"prompt_tokens": 120, "completion_tokens": 45, "total_tokens": 165}

# Roughly what DeepSeek says for each status.
_ERRORS = {
    400: ("Invalid request: the request body is malformed", "invalid_request_error"),
    401: ("Authentication Fails, Your api key is invalid", "authentication_error"),
    402: ("Insufficient Balance", "unknown_error"),
    403: ("Forbidden", "permission_error"),
    404: ("Not Found", "invalid_request_error"),
    422: ("Invalid Parameters", "invalid_request_error"),
    429: ("Rate Limit Reached", "rate_limit_error"),
    500: ("Server Error", "server_error"),
    502: ("Bad Gateway", "server_error"),
    503: ("Server Overloaded", "server_error"),
}


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: CaseInsensitiveDict
    body: dict | None


# -- behaviours ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """One scripted answer. `completion` is set for 200 answers, so they can follow blank lines."""

    name: str
    serve: Callable[["_Handler"], None] = field(repr=False)
    completion: Callable[["_Handler"], dict] | None = field(default=None, repr=False)


def ok(
    content: dict | str | None = None, *, finish_reason: str = "stop", usage: dict | None = None
) -> Behaviour:
    def completion(h: _Handler) -> dict:
        chosen = h.stub.default_content if content is None else content
        return h.stub.completion_body(chosen, finish_reason=finish_reason, usage=usage)

    return Behaviour("ok", lambda h: h.send_json(200, completion(h)), completion)


def blank_content() -> Behaviour:
    return _named(ok(""), "blank_content")


def invalid_json_content() -> Behaviour:
    return _named(ok('{"sentiment": "negative", "summary": '), "invalid_json_content")


def wrong_enum() -> Behaviour:
    return _named(ok({**DEFAULT_CONTENT, "sentiment": "furious"}), "wrong_enum")


def slow_blank_lines(
    seconds: float, then: Behaviour | None = None, *, interval: float = 0.2
) -> Behaviour:
    then = then or ok()
    if then.completion is None:
        # The 200 status line is already out before the blank lines, so only a 200 can follow.
        raise ValueError(f"slow_blank_lines can only be followed by a 200 behaviour, not {then.name}")

    def serve(h: _Handler) -> None:
        h.start_chunked(200)
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            h.write_chunk(b"\n")
            if h.stub._stopping.wait(min(interval, max(until - time.monotonic(), 0))):
                return
        h.write_chunk(h.encode(then.completion(h)))
        h.end_chunked()

    return Behaviour(f"slow_blank_lines({seconds}, then={then.name})", serve)


def error(status: int, message: str | None = None, *, headers: dict | None = None) -> Behaviour:
    fallback = ("Error", "server_error" if status >= 500 else "invalid_request_error")
    default_message, kind = _ERRORS.get(status, fallback)
    body = {"error": {"message": message or default_message, "type": kind, "code": kind}}
    return Behaviour(f"error({status})", lambda h: h.send_json(status, body, headers))


def hang(seconds: float) -> Behaviour:
    def serve(h: _Handler) -> None:
        h.stub._stopping.wait(seconds)
        h.drop()

    return Behaviour(f"hang({seconds})", serve)


def disconnect() -> Behaviour:
    return Behaviour("disconnect", lambda h: h.drop())


def _named(b: Behaviour, name: str) -> Behaviour:
    return Behaviour(name, b.serve, b.completion)


# -- server -------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, like the real thing
    server: _Server

    @property
    def stub(self) -> DeepSeekStub:
        return self.server.stub

    def setup(self) -> None:
        super().setup()
        self.stub._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.stub._track(self.connection, add=False)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            # The client gave up (deadline, timeout): nothing to answer any more.
            self.close_connection = True

    def log_message(self, format, *args) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if self.path != "/chat/completions":
            error(404).serve(self)
            return
        self.stub._record(RecordedRequest(self.path, CaseInsensitiveDict(self.headers.items()), body))

        presented = self.headers.get("Authorization", "")
        if presented != f"Bearer {self.stub.api_key}":
            tail = presented[-4:] if len(presented) > 11 else ""
            # DeepSeek echoes a masked key; so do we, to keep clients honest about not leaking it.
            message = f"Authentication Fails, Your api key: ****{tail} is invalid"
            error(401, message).serve(self)
            return
        if not isinstance(body, dict):
            error(400, "Failed to deserialize the JSON body").serve(self)
            return
        self.stub._next_behaviour(body).serve(self)

    # Helpers used by behaviours.

    def encode(self, payload: dict) -> bytes:
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")

    def send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = self.encode(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(data)

    def start_chunked(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a hang() in progress
    stub: DeepSeekStub


class DeepSeekStub:
    def __init__(self, api_key: str = DEFAULT_API_KEY, model: str = DEFAULT_MODEL):
        self.api_key = api_key
        self._initial_model = model
        self.model = model  # what answers say answered
        self.default_content: dict | str = dict(DEFAULT_CONTENT)
        self.responder: Callable[[dict], Behaviour | None] | None = None
        self._lock = threading.Lock()
        self._script: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> DeepSeekStub:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="deepseek-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            open_connections = list(self._connections)
        for conn in open_connections:  # wake keep-alive handlers blocked on a read
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> DeepSeekStub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("DeepSeekStub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # scripting

    def script(self, *behaviours: Behaviour) -> None:
        for b in behaviours:
            if not isinstance(b, Behaviour):
                raise TypeError(f"not a behaviour: {b!r}")
        with self._lock:
            self._script.extend(behaviours)

    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self.default_content = dict(DEFAULT_CONTENT)
            self.responder = None
            self.model = self._initial_model

    def completion_body(self, content: dict | str, *, finish_reason: str = "stop",
                        usage: dict | None = None) -> dict:
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        return {
            "id": f"chatcmpl-stub-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }],
            "usage": dict(usage or DEFAULT_USAGE),
        }

    # used by the handler

    def _next_behaviour(self, body: dict | None = None) -> Behaviour:
        with self._lock:
            if self._script:
                return self._script.popleft()
            responder = self.responder
        chosen = responder(body) if responder is not None and body is not None else None
        return chosen or ok()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)
