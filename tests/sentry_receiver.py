"""A local Sentry server for tests: accepts envelopes over real HTTP and decodes them.

sentry-sdk's own HTTP transport sends to it (DSN http://public@127.0.0.1:<port>/1), so
tests see exactly the bytes that would reach sentry.io. It keeps connections alive, as
sentry.io does. Benchmarks pass keep=False: it then only counts what it gets, so its own
work (a remote server's, in production) does not take the CPU being measured.
"""
from __future__ import annotations

import gzip
import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sentry_sdk.envelope import Envelope

PUBLIC_KEY = "0123456789abcdef0123456789abcdef"


def _json(item) -> dict:
    # Envelope.deserialize decodes only some item types (not check-ins): read the bytes.
    return item.payload.json if item.payload.json is not None else json.loads(item.payload.get_bytes())


@dataclass
class Received:
    path: str
    headers: dict
    raw: bytes  # decompressed body
    envelope: Envelope


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A client that goes away (a process ending) resets its kept-alive connection: normal.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SentryReceiver:
    def __init__(self, keep: bool = True):
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self.received: list[Received] = []
        self.keep = keep  # decode and keep envelopes (tests), or only count them (benchmarks)
        self.envelopes_seen = 0
        self.connections: set = set()  # (host, port) of each client connection that sent something
        self.status = 200  # what to answer; tests set 429/500 to simulate a refusing server
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def dsn(self) -> str:
        return f"http://{PUBLIC_KEY}@127.0.0.1:{self.port}/1"

    def start(self) -> "SentryReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def clear(self) -> None:
        with self._lock:
            self.received.clear()
            self.connections.clear()
            self.status = 200

    def _record(self, item: Received) -> None:
        with self._cond:
            self.received.append(item)
            self._cond.notify_all()

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as sentry.io: one connection serves many envelopes
            # The status line and the body go in two writes: with Nagle's algorithm on, each
            # answer on a kept-alive connection waited 40 ms for the client's delayed ACK.
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                envelope = self.path.endswith("/envelope/")
                with receiver._lock:
                    receiver.envelopes_seen += envelope
                    receiver.connections.add(self.client_address)
                if envelope and receiver.keep:
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    receiver._record(Received(self.path, dict(self.headers), body, Envelope.deserialize(body)))
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        return Handler

    # --- what tests read -------------------------------------------------------------
    def items(self, item_type: str) -> list[dict]:
        with self._lock:
            envelopes = [r.envelope for r in self.received]
        return [_json(item) for env in envelopes for item in env.items if item.type == item_type]

    @property
    def events(self) -> list[dict]:
        return self.items("event")

    @property
    def transactions(self) -> list[dict]:
        return self.items("transaction")

    @property
    def check_ins(self) -> list[dict]:
        return self.items("check_in")

    @property
    def raw_bodies(self) -> list[bytes]:
        with self._lock:
            return [r.raw for r in self.received]

    def wait_for(self, item_type: str, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """Wait until at least `count` items of the type arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self._count(item_type)
                if found >= count or time.monotonic() >= deadline:
                    break
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
        return self.items(item_type)

    def _count(self, item_type: str) -> int:
        return sum(1 for r in self.received for item in r.envelope.items if item.type == item_type)
