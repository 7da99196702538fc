"""A local stand-in for the WB buyer-chat API, served over loopback for tests.

It follows the contract in DESIGN.md ("External APIs"): raw-token auth, chats, paged
events, multipart replies, problem+json errors, plus fault injection (status codes,
delays, malformed bodies, failing after n event pages) and a request log.
"""
from __future__ import annotations

import bisect
import json
import socket
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

CHATS_PATH = "/api/v1/seller/chats"
EVENTS_PATH = "/api/v1/seller/events"
MESSAGE_PATH = "/api/v1/seller/message"
DOWNLOAD_PATH = "/api/v1/seller/download/"


class Recorded(NamedTuple):
    method: str
    path: str
    query: dict
    headers: dict


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def problem(status: int, detail: str, title: str | None = None) -> dict:
    """A WB-shaped application/problem+json body."""
    phrase = HTTPStatus(status).phrase
    return {
        "title": title or phrase.lower(),
        "detail": detail,
        "code": f"{status}-stub",
        "requestId": uuid.uuid4().hex,
        "origin": "s2s-api-auth-chat" if status == 401 else "buyer-chat-api",
        "status": status,
        "statusText": phrase,
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class WBStub:
    def __init__(self, valid_tokens=("test-token",), page_size: int = 3):
        self.valid_tokens: set[str] = set(valid_tokens)
        self.chats: list[dict] = []
        self.events: list[dict] = []
        self.page_size = page_size
        self.requests: list[Recorded] = []
        self.arrivals: list[float] = []  # time.time() of each request in `requests`, in step
        self.sent_messages: list[dict] = []  # multipart fields as received
        # Each message's `file` parts (field, filename, content_type, content), in step.
        self.sent_files: list[list[dict]] = []
        # Files buyers sent, by downloadID: (bytes, content type, 202 answers still to give).
        self.files: dict[str, list] = {}
        # Optional real limit per token, e.g. (10, 10.0); None = unlimited.
        self.rate_limit: tuple[int, float] | None = None
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set = set()
        self._port = 0
        self.reset()

    # ---- lifecycle --------------------------------------------------------

    def start(self, port: int = 0) -> "WBStub":
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._server.stub = self
        # A short poll interval keeps stop() quick.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="wb-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # cuts delays short
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def go_down(self) -> None:
        """WB down: the listener closes and open connections are cut, so every request is
        refused (connection refused) until come_back(), which listens on the same port."""
        self._port = self._server.server_address[1]
        self.stop()
        with self.lock:
            for connection in list(self._connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def come_back(self) -> None:
        self.start(self._port)

    def __enter__(self) -> "WBStub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Clear faults and records (data stays)."""
        with self.lock:
            self._faults: deque = deque()
            self._fail_after_pages: int | None = None
            self._pages_served = 0
            self._hits: dict[str, deque] = {}
            self.requests.clear()
            self.arrivals.clear()
            self.sent_messages.clear()
            self.sent_files.clear()

    # ---- data builders ----------------------------------------------------

    def add_chat(self, chat_id=None, client_name="Анна", text="Здравствуйте, где мой заказ?",
                 nm_id=123456789, price=1490, client_id=None) -> dict:
        now = int(time.time() * 1000)
        chat = {
            "chatID": chat_id or f"1:{uuid.uuid4()}",
            "replySign": f"sign-{uuid.uuid4().hex}",
            "clientName": client_name,
            "goodCard": {"date": _iso(now), "nmID": nm_id, "price": price, "priceCurrency": "RUB",
                         "rid": uuid.uuid4().hex, "size": "0"},
            "lastMessage": {"text": text, "addTimestamp": now},
        }
        if client_id is not None:  # deprecated field: absent unless asked for
            chat["clientID"] = client_id
        with self.lock:
            self.chats.append(chat)
        return chat

    def add_event(self, chat_id, text="Здравствуйте", sender="client", is_new_chat=False,
                  add_timestamp=None, attachments=None, client_name=None, same_ms=False,
                  poison=None) -> dict:
        """Add a message event. `same_ms`: share the newest event's millisecond. `poison`:
        fields served in place of the event's own (hostile-feed tests); the feed keeps the
        event at its real place, as WB's cursor would."""
        with self.lock:
            chat = next((c for c in self.chats if c["chatID"] == chat_id), None)
            last = _feed_ms(self.events[-1]) if self.events else 0
            ts = add_timestamp if add_timestamp is not None else (
                last if same_ms and self.events else max(int(time.time() * 1000), last + 1))
            if not same_ms and any(_feed_ms(e) == ts for e in self.events):
                raise ValueError(f"addTimestamp {ts} already used")
            event = {
                "chatID": chat_id,
                "eventID": str(uuid.uuid4()),
                "eventType": "message",
                "isNewChat": is_new_chat,
                "source": "rusite",
                "addTimestamp": ts,
                "addTime": _iso(ts),
                "sender": sender,
                "clientName": client_name or (chat["clientName"] if chat else "Анна"),
            }
            if text is not None or attachments:
                event["message"] = {"text": text or ""}
                if attachments:
                    event["message"]["attachments"] = attachments
            if is_new_chat:
                event["replySign"] = chat["replySign"] if chat else f"sign-{uuid.uuid4().hex}"
            if poison:
                event[_FEED_MS] = ts
                event.update(poison)
            self.events.append(event)
            self.events.sort(key=_feed_ms)  # stable: events sharing a millisecond keep their order
            if chat and text is not None and ts >= chat["lastMessage"]["addTimestamp"]:
                chat["lastMessage"] = {"text": text, "addTimestamp": ts}
            return event

    def add_file(self, content: bytes, content_type: str, moderated_first: int = 0, download_id=None) -> str:
        """A file /download/{id} serves (after `moderated_first` answers of 202); its id."""
        download_id = download_id or uuid.uuid4().hex
        with self.lock:
            self.files[download_id] = [content, content_type, moderated_first]
        return download_id

    def downloads(self, download_id: str | None = None) -> int:
        """How many download requests arrived (for one file, or all)."""
        with self.lock:
            return sum(1 for r in self.requests if r.path.startswith(DOWNLOAD_PATH)
                       and (download_id is None or r.path == DOWNLOAD_PATH + download_id))

    def delivered(self, text: str) -> int:
        """How many copies of `text` WB holds from the seller (what the buyer sees)."""
        with self.lock:
            return sum(1 for e in self.events if e["sender"] == "seller" and (e.get("message") or {}).get("text") == text)

    # ---- fault injection --------------------------------------------------

    def fail_next(self, status: int, count: int = 1, headers=None, body=None, path=None) -> None:
        """Answer the next `count` requests (to `path`, if given) with `status`."""
        if headers is None and status == 429:
            headers = {"X-Ratelimit-Retry": "1", "X-Ratelimit-Reset": "1", "X-Ratelimit-Limit": "10"}
        self._push("fail", count, path, status=status, headers=headers or {}, body=body)

    def delay_next(self, seconds: float, count: int = 1, path=None) -> None:
        """Sleep before answering the next `count` requests normally."""
        self._push("delay", count, path, seconds=seconds)

    def malformed_next(self, count: int = 1, path=None) -> None:
        """Answer 200 with a body that is not valid JSON."""
        self._push("malformed", count, path)

    def trickle_next(self, bytes_per_second: float, count: int = 1, path=None) -> None:
        """Answer the next `count` requests normally, but send the body this slowly."""
        self._push("trickle", count, path, rate=bytes_per_second)

    def accept_then_fail_next(self, status: int, count: int = 1) -> None:
        """Take the next `count` messages (WB stores them and echoes them in the feed), then
        answer `status` as a gateway that timed out would (504, 502)."""
        self._push("accept_fail", count, MESSAGE_PATH, status=status)

    def accept_then_hang_next(self, seconds: float, count: int = 1) -> None:
        """Take the next `count` messages, then answer only after `seconds` (past the client's
        timeout, or never if the client was killed)."""
        self._push("accept_delay", count, MESSAGE_PATH, seconds=seconds)

    def call_next(self, callback, count: int = 1, path=None) -> None:
        """Call `callback()` before answering the next `count` requests normally."""
        self._push("call", count, path, callback=callback)

    def fail_after_pages(self, n: int | None) -> None:
        """Events: serve n more pages, then 500 until reset() or fail_after_pages(None)."""
        with self.lock:
            self._fail_after_pages = n
            self._pages_served = 0

    def _push(self, kind, count, path, **spec) -> None:
        with self.lock:
            for _ in range(count):
                self._faults.append(dict(spec, kind=kind, path=path))

    def _take_fault(self, path: str) -> dict | None:
        with self.lock:
            for fault in self._faults:
                if fault["path"] in (None, path):
                    self._faults.remove(fault)
                    return fault
        return None

    # ---- request handling (called from server threads) --------------------

    def handle(self, h: "_Handler", method: str) -> None:
        split = urlsplit(h.path)
        path, query = split.path, dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append(Recorded(method, path, query, dict(h.headers.items())))
            self.arrivals.append(time.time())

        fault = self._take_fault(path)
        after = fault if fault and fault["kind"] in ("accept_fail", "accept_delay") else None
        if after:
            fault = None
        if fault and fault["kind"] == "delay":
            if self._stopping.wait(fault["seconds"]):
                return
        elif fault and fault["kind"] == "call":
            fault["callback"]()
        elif fault and fault["kind"] == "trickle":
            h.trickle_rate = fault["rate"]
        elif fault and fault["kind"] == "malformed":
            return h.reply(200, b'{"result": [{"chatID": ', "application/json")
        elif fault:
            body = fault["body"] if fault["body"] is not None else problem(fault["status"], "injected fault")
            return h.reply_json(fault["status"], body, fault["headers"], problem_json=fault["status"] >= 400)

        token = h.headers.get("Authorization")
        if token not in self.valid_tokens:
            detail = "token is missing" if not token else "token is malformed or expired"
            return h.reply_json(401, problem(401, detail, "unauthorized"), problem_json=True)
        limited = self._rate_check(token)
        if limited is not None:
            return h.reply_json(429, problem(429, "too many requests"), limited, problem_json=True)

        route = {("GET", CHATS_PATH): self._chats, ("GET", EVENTS_PATH): self._events,
                 ("POST", MESSAGE_PATH): self._message}.get((method, path))
        if method == "GET" and path.startswith(DOWNLOAD_PATH):
            return self._download(h, path.removeprefix(DOWNLOAD_PATH))
        if route is None:
            return h.reply_json(404, problem(404, f"no route {method} {path}"), problem_json=True)
        status, body = route(query, h.headers, raw)
        if after and after["kind"] == "accept_fail" and status == 200:  # taken, but the answer is lost
            return h.reply_json(after["status"], problem(after["status"], "gateway timeout"), problem_json=True)
        if after and after["kind"] == "accept_delay" and self._stopping.wait(after["seconds"]):
            return
        h.reply_json(status, body, problem_json=status >= 400)

    def _download(self, h, download_id: str) -> None:
        from urllib.parse import unquote

        with self.lock:
            found = self.files.get(unquote(download_id))
            if found is not None and found[2] > 0:
                found[2] -= 1
                return h.reply_json(202, {"moderationState": "moderation", "retrySeconds": 2})
        if found is None:
            return h.reply_json(404, problem(404, "file not found"), problem_json=True)
        h.reply(200, found[0], found[1])

    def _rate_check(self, token: str) -> dict | None:
        if not self.rate_limit:
            return None
        limit, period = self.rate_limit
        now = time.monotonic()
        with self.lock:
            hits = self._hits.setdefault(token, deque())
            while hits and hits[0] <= now - period:
                hits.popleft()
            if len(hits) < limit:
                hits.append(now)
                return None
            retry = max(1, int(hits[0] + period - now + 0.999))
        return {"X-Ratelimit-Retry": str(retry), "X-Ratelimit-Reset": str(int(period)),
                "X-Ratelimit-Limit": str(limit)}

    def _chats(self, query, headers, raw):
        with self.lock:
            return 200, {"result": json.loads(json.dumps(self.chats)), "errors": None}

    def _events(self, query, headers, raw):
        nxt = query.get("next")
        if nxt is not None:
            try:
                after = int(nxt)
            except ValueError:
                after = 0
            if after <= 0:
                return 400, problem(400, "invalid 'next' parameter", "bad request")
        with self.lock:
            if self._fail_after_pages is not None and self._pages_served >= self._fail_after_pages:
                return 500, problem(500, "events storage unavailable", "internal server error")
            self._pages_served += 1
            # The events are kept in feed order: a binary search keeps big feeds (bench) cheap.
            start = 0 if nxt is None else bisect.bisect_right(self.events, after, key=_feed_ms)
            served = self.events[start:start + self.page_size]
            page = [{k: v for k, v in e.items() if k != _FEED_MS} for e in served]
            # Encoded under the lock: a test changing an event later cannot change this page.
            return 200, json_bytes({
                "result": {
                    "next": _feed_ms(served[-1]) if served else (after if nxt is not None else 0),
                    "newestEventTime": page[-1]["addTime"] if page else None,
                    "oldestEventTime": page[0]["addTime"] if page else None,
                    "totalEvents": len(page),
                    "events": page,
                },
                "errors": None,
            })

    def _message(self, query, headers, raw):
        ctype = headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return 400, problem(400, "expected multipart/form-data", "bad request")
        msg = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + raw
        )
        fields, files, file_parts = {}, [], []
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                files.append(part.get_filename())
                file_parts.append({"field": name, "filename": part.get_filename(),
                                   "content_type": part.get_content_type(), "content": part.get_payload(decode=True)})
            elif name:
                # No per-part charset is sent: WB (and we) read UTF-8.
                fields[name] = part.get_payload(decode=True).decode("utf-8")
        with self.lock:
            self.sent_messages.append(dict(fields, files=files))
            self.sent_files.append(file_parts)
            sign, text = fields.get("replySign", ""), fields.get("message", "")
            chat = next((c for c in self.chats if c["replySign"] == sign), None)
        if not sign or len(sign) > 255 or chat is None:
            return 400, problem(400, "invalid replySign", "bad request")
        if len(text) > 1000 or (not text and not files):
            return 400, problem(400, "message is empty or longer than 1000 characters", "bad request")
        # WB shows the seller's own reply in the event feed too (its files as attachments).
        echoed = {"files": [{"downloadID": self.add_file(p["content"], p["content_type"]), "name": p["filename"],
                             "contentType": p["content_type"], "size": len(p["content"])} for p in file_parts]}
        event = self.add_event(chat["chatID"], text, sender="seller", attachments=echoed if file_parts else None)
        return 200, {"result": {"addTime": event["addTimestamp"], "chatID": chat["chatID"]}, "errors": []}


def _feed_ms(event: dict) -> int:
    """Where an event sits in the feed: its addTimestamp, unless a poisoned one replaced it."""
    return event.get(_FEED_MS, event["addTimestamp"])


_FEED_MS = "_feed_ms"  # never served


def json_bytes(body) -> bytes:
    try:
        return json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate (hostile-feed tests) goes as its JSON escape
        return json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind requests.Session
    trickle_rate: float | None = None  # bytes per second for this answer's body (trickle_next)

    def setup(self):
        super().setup()
        with self.server.stub.lock:
            self.server.stub._connections.add(self.connection)
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold each answer ~40 ms (a real server sends them together).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self):
        with self.server.stub.lock:
            self.server.stub._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:  # cut by go_down()
            pass

    def do_GET(self):
        self._run("GET")

    def do_POST(self):
        self._run("POST")

    def _run(self, method):
        try:
            self.server.stub.handle(self, method)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def reply(self, status: int, data: bytes, ctype: str, headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.trickle_rate:
            rate, self.trickle_rate = self.trickle_rate, None  # this answer only (keep-alive)
            for i in range(len(data)):
                if self.server.stub._stopping.wait(1 / rate):
                    return
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
            return
        self.wfile.write(data)

    def reply_json(self, status, body, headers=None, problem_json=False) -> None:
        ctype = "application/problem+json" if problem_json else "application/json"
        if isinstance(body, str):
            body = body.encode()
        if not isinstance(body, bytes):
            body = json_bytes(body)
        self.reply(status, body, f"{ctype}; charset=utf-8", headers)

    def log_message(self, format, *args):  # keep test output quiet
        pass
