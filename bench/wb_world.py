"""A WB stand-in for benchmarks: many sellers (one token each) whose buyers write at random.

Each seller has a few buyers; a buyer comes by now and then (a Poisson process per seller)
and writes one to three messages a few seconds apart. A message becomes visible in the
seller's event feed at the moment it was written, with addTimestamp = that moment (ms),
so the time from a buyer writing to the message reaching the operator can be measured.
It answers the routes the chat center uses (chats, events, message) as WB documents them,
and records when each seller's requests arrived.

Run it as a process (`python bench/wb_world.py --sellers 500 --port 8100 ...`) so its CPU
is not counted with ours; it prints its URL once it listens. Two extra routes for the bench:
`GET /_world/messages` (every message written so far: seller, chat, text, addTimestamp) and
`GET /_world/requests` (per seller token, the arrival times of its requests).
"""
from __future__ import annotations

import argparse
import bisect
import json
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

CHATS_PATH = "/api/v1/seller/chats"
EVENTS_PATH = "/api/v1/seller/events"
MESSAGE_PATH = "/api/v1/seller/message"
PAGE_SIZE = 50
BUYERS_PER_SELLER = 5
QUESTIONS = ("Где мой заказ?", "Можно вернуть товар?", "Какой размер выбрать?", "Товар пришёл с браком",
             "Когда будет в наличии?", "Спасибо, всё пришло!")


def token_of(seller: int) -> str:
    return f"world-token-{seller:05d}"


@dataclass
class Message:
    ts: int           # ms: when the buyer wrote it
    seller: int
    chat: str         # WB chatID
    text: str
    new_chat: bool
    event: dict = field(default_factory=dict)


@dataclass
class Seller:
    number: int
    messages: list[Message] = field(default_factory=list)  # by ts, unique ts
    stamps: list[int] = field(default_factory=list)         # the ts of each message, for bisect
    chats: dict[str, dict] = field(default_factory=dict)    # chatID -> chat as /chats lists it
    requests: list[float] = field(default_factory=list)


def plan(sellers: int, mean_gap: float, start: float, duration: float, seed: int) -> dict[int, Seller]:
    """Every message of the run, decided up front (the seed makes a run repeatable)."""
    rng = random.Random(seed)
    world = {}
    serial = 0
    for number in range(1, sellers + 1):
        seller = world[number] = Seller(number)
        buyers = [f"1:{uuid.UUID(int=rng.getrandbits(128))}" for _ in range(BUYERS_PER_SELLER)]
        started: set[str] = set()
        # A visit is 1-3 messages (2 on average), so visits come every 2 x mean_gap.
        t = start + rng.expovariate(1 / (2 * mean_gap))
        last_ts = 0
        while t < start + duration:
            chat = rng.choice(buyers)
            at = t
            for _ in range(rng.randint(1, 3)):
                serial += 1
                ts = max(int(at * 1000), last_ts + 1)  # WB's cursor needs distinct times per seller
                last_ts = ts
                text = f"w{serial} {rng.choice(QUESTIONS)}"
                seller.messages.append(Message(ts, number, chat, text, chat not in started))
                started.add(chat)
                at += rng.uniform(1.0, 4.0)
            t += rng.expovariate(1 / (2 * mean_gap))
        seller.messages.sort(key=lambda m: m.ts)
        seller.stamps = [m.ts for m in seller.messages]
        for m in seller.messages:
            m.event = _event(m, number)
    return world


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def _sign(seller: int, chat: str) -> str:
    return f"sign-{seller}-{chat[-12:]}"


def _event(m: Message, seller: int) -> dict:
    event = {"chatID": m.chat, "eventID": f"ev-{m.ts}-{seller}", "eventType": "message", "isNewChat": m.new_chat,
             "message": {"text": m.text}, "source": "rusite", "addTimestamp": m.ts, "addTime": _iso(m.ts),
             "sender": "client", "clientName": f"Покупатель {seller}"}
    if m.new_chat:
        event["replySign"] = _sign(seller, m.chat)
    return event


class World:
    def __init__(self, sellers: dict[int, Seller]):
        self.sellers = sellers
        self.by_token = {token_of(n): s for n, s in sellers.items()}
        self.lock = threading.Lock()

    def visible(self, seller: Seller, now_ms: int) -> int:
        """How many of the seller's messages have been written by now."""
        return bisect.bisect_right(seller.stamps, now_ms)

    def events(self, seller: Seller, after: int | None, now_ms: int) -> dict:
        upto = self.visible(seller, now_ms)
        first = 0 if after is None else bisect.bisect_right(seller.stamps, after, 0, upto)
        page = [m.event for m in seller.messages[first:min(upto, first + PAGE_SIZE)]]
        return {"result": {"next": page[-1]["addTimestamp"] if page else (after or 0),
                           "newestEventTime": page[-1]["addTime"] if page else None,
                           "oldestEventTime": page[0]["addTime"] if page else None,
                           "totalEvents": len(page), "events": page}, "errors": None}

    def chats(self, seller: Seller, now_ms: int) -> dict:
        chats = {}
        for m in seller.messages[:self.visible(seller, now_ms)]:
            chat = chats.setdefault(m.chat, {
                "chatID": m.chat, "replySign": _sign(seller.number, m.chat),
                "clientName": f"Покупатель {seller.number}",
                "goodCard": {"date": _iso(m.ts), "nmID": 100000 + seller.number, "price": 1490,
                             "priceCurrency": "RUB", "rid": uuid.uuid4().hex, "size": "0"}})
            chat["lastMessage"] = {"text": m.text, "addTimestamp": m.ts}
        return {"result": list(chats.values()), "errors": None}

    def written(self, now_ms: int) -> list[dict]:
        return [{"seller": m.seller, "chat": m.chat, "text": m.text, "ts": m.ts}
                for s in self.sellers.values() for m in s.messages[:self.visible(s, now_ms)]]

    def request_log(self) -> dict:
        with self.lock:
            return {str(n): list(s.requests) for n, s in self.sellers.items()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept-alive connections, like WB behind requests.Session

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def _route(self, method: str) -> None:
        world: World = self.server.world
        arrived = time.time()
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if split.path == "/_world/messages":
            return self._json(200, world.written(int(arrived * 1000)))
        if split.path == "/_world/requests":
            return self._json(200, world.request_log())
        seller = world.by_token.get(self.headers.get("Authorization", ""))
        if seller is None:
            return self._json(401, {"title": "unauthorized", "detail": "token is malformed or expired",
                                    "status": 401}, problem=True)
        with world.lock:
            seller.requests.append(arrived)
        now_ms = int(arrived * 1000)
        if (method, split.path) == ("GET", EVENTS_PATH):
            after = query.get("next")
            if after is not None and int(after) <= 0:
                return self._json(400, {"title": "bad request", "detail": "invalid 'next'", "status": 400},
                                  problem=True)
            return self._json(200, world.events(seller, int(after) if after else None, now_ms))
        if (method, split.path) == ("GET", CHATS_PATH):
            return self._json(200, world.chats(seller, now_ms))
        if (method, split.path) == ("POST", MESSAGE_PATH):
            return self._json(200, {"result": {"addTime": now_ms}, "errors": []})
        return self._json(404, {"title": "not found", "status": 404}, problem=True)

    def _json(self, status: int, body, problem: bool = False) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/problem+json" if problem else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # hundreds of sellers' kept-alive connections open at once


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sellers", type=int, required=True)
    parser.add_argument("--mean-gap", type=float, default=120.0, help="mean seconds between a seller's messages")
    parser.add_argument("--start", type=float, required=True, help="Unix time the buyers start writing")
    parser.add_argument("--duration", type=float, required=True, help="seconds the buyers write for")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    world = World(plan(args.sellers, args.mean_gap, args.start, args.duration, args.seed))
    server = Server(("127.0.0.1", args.port), Handler)
    server.world = world
    host, port = server.server_address[:2]
    print(f"http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
