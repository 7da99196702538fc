"""Latency of the API, the inbox and reports pages and the /metrics scrape at 100,000 chats and 1,000,000 messages.

PostgreSQL (BENCH_DATABASE_URL, default database `bench` on the local server) is filled by
bench/seed_data.py when it holds fewer chats than asked; gunicorn runs with gunicorn.conf.py
as production does (WEB_CONCURRENCY defaults to 2 x cores + 1, 4 threads each: the gthread
worker, since a request spends part of its time waiting on PostgreSQL).

Latency is measured with 2 wrk connections, one request in flight per core: a latency
figure at full saturation would only measure the queue (in a closed loop, latency is
connections / throughput). Throughput is then measured with 8 connections, the machine
saturated, and its p99 is shown too. Routes alternate, rounds repeat; medians.

    .venv/bin/python bench/api.py [--rounds 3] [--seconds 6] [--only 'q=']
"""
from __future__ import annotations

import argparse
import html.parser
import os
import re
import subprocess
import sys
import time
import urllib.parse
from urllib.parse import quote
import urllib.request
from http.cookiejar import CookieJar

from harness import ROOT, Table, median, report
from web_load import gunicorn, wrk

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
OPERATOR, PASSWORD = "bench@chatcenter.example", "bench-password-123"
LATENCY_CONNECTIONS, THROUGHPUT_CONNECTIONS = 2, 8
DRAIN_SECONDS = 2.0

ROUTES = {  # name: (path, "api" or "inbox", p99 target in ms)
    "GET /api/chats?limit=50": ("/api/chats?limit=50", "api", 25),
    "GET /api/chats?limit=50 (awaiting, urgency=high)": ("/api/chats?limit=50&awaiting_reply=true&urgency=high",
                                                         "api", 25),
    "GET /api/chats?limit=50 (seller 7, category=delivery)": ("/api/chats?limit=50&seller_id=7&category=delivery",
                                                              "api", 25),
    "GET /api/chats/<id>": ("/api/chats/54321", "api", 25),
    "GET / (inbox page)": ("/", "inbox", 50),
    # Search (q=) at 1M messages: seed_data.py writes ten phrases and an order number, so a word
    # is in every message (заказ), in a tenth (коробка finds "Коробка"; refund), in ten (an order
    # number), or two common words are never together; a buyer's name; the inbox page's search.
    "GET /api/chats?q=коробка (a tenth of the messages)": (f"/api/chats?limit=50&q={quote('коробка')}", "api", 50),
    "GET /api/chats?q=заказ (every message)": (f"/api/chats?limit=50&q={quote('заказ')}", "api", 50),
    "GET /api/chats?q=refund (English)": ("/api/chats?limit=50&q=refund", "api", 50),
    "GET /api/chats?q=54321 (10 messages)": ("/api/chats?limit=50&q=54321", "api", 50),
    "GET /api/chats?q=гарантия поцарапан (none)": (f"/api/chats?limit=50&q={quote('гарантия поцарапан')}", "api", 50),
    "GET /api/chats?q=Покупатель 4242 (a name)": (f"/api/chats?limit=50&q={quote('Покупатель 4242')}", "api", 50),
    "GET /api/chats?q=коробка&awaiting_reply=true&urgency=high": (
        f"/api/chats?limit=50&q={quote('коробка')}&awaiting_reply=true&urgency=high", "api", 50),
    "GET /?q=коробка (inbox search)": (f"/?q={quote('коробка')}", "inbox", 50),
    "GET /metrics (scrape)": ("/metrics", "metrics", 100),
    "GET /reports (last 7 days)": ("/reports", "inbox", 300),
}


def env() -> dict:
    return {**os.environ, "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "SENTRY_DSN": "",
            "DEEPSEEK_API_KEY": "", "PYTHONPATH": str(ROOT), "SECRET_KEY": "bench-" + "k" * 40}


def flask(*args: str, stdin: str = "") -> str:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "chatcenter", *args], cwd=ROOT, env=env(),
                          input=stdin, capture_output=True, text=True, check=True).stdout


def ensure_data(chats: int) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(DATABASE_URL)
    try:
        with engine.connect() as conn:
            have = conn.execute(text("SELECT count(*) FROM chats")).scalar()
    except Exception:
        have = 0
    engine.dispose()
    if have < chats:
        subprocess.run([sys.executable, "bench/seed_data.py", DATABASE_URL, "--chats", str(chats)], cwd=ROOT,
                       check=True)


class _CsrfField(html.parser.HTMLParser):
    token = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") == "csrf_token":
            self.token = attrs.get("value")


def session_cookie(base: str) -> str:
    """Sign in as the bench operator; return the Cookie header value."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    parser = _CsrfField()
    parser.feed(opener.open(base + "/login").read().decode())
    form = urllib.parse.urlencode({"email": OPERATOR, "password": PASSWORD, "csrf_token": parser.token}).encode()
    opener.open(base + "/login", data=form).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--only", default="", help="only the routes whose name holds one of these, "
                                                   "separated by |, e.g. 'q=|GET / (inbox page)'")
    args = parser.parse_args()
    routes = {name: route for name, route in ROUTES.items() if any(part in name for part in args.only.split("|"))}

    ensure_data(args.chats)
    flask("db", "upgrade")  # a database seeded by an older version gets this one's schema
    key = flask("api-keys", "create", "bench").strip().splitlines()[-1]
    try:
        flask("operators", "add", OPERATOR, stdin=PASSWORD + "\n")
    except subprocess.CalledProcessError:
        pass  # added by an earlier run
    latency: dict[str, list] = {name: [] for name in routes}
    saturated: dict[str, list] = {name: [] for name in routes}
    with gunicorn(env()) as base:
        headers = {"api": {"Authorization": f"Bearer {key}"}, "inbox": {"Cookie": session_cookie(base)},
                   "metrics": {}}
        for name, (path, kind, _) in routes.items():  # warm up every worker and cache
            wrk(base + path, seconds=2, headers=headers[kind])
        time.sleep(DRAIN_SECONDS)
        for _ in range(args.rounds):
            for name, (path, kind, _) in routes.items():
                latency[name].append(wrk(base + path, seconds=args.seconds, connections=LATENCY_CONNECTIONS,
                                         threads=1, headers=headers[kind]))
                saturated[name].append(wrk(base + path, seconds=max(2, args.seconds // 2),
                                           connections=THROUGHPUT_CONNECTIONS, headers=headers[kind]))
                # gunicorn finishes the requests wrk left in flight (the reports at 8 connections
                # queue up to a second of them): the next route's latency must not wait on those.
                time.sleep(DRAIN_SECONDS)

    workers = os.environ.get("WEB_CONCURRENCY") or f"{min(2 * (os.cpu_count() or 1) + 1, 8)} (default)"
    table = Table(f"PostgreSQL, {args.chats:,} chats and {args.chats * 10:,} messages; gunicorn gthread, "
                  f"{workers} workers x 4 threads; wrk {LATENCY_CONNECTIONS} connections for latency, "
                  f"{THROUGHPUT_CONNECTIONS} for throughput; {args.rounds} rounds; medians",
                  ["route", "p50 ms", "p99 ms", "requests/s", f"requests/s at {THROUGHPUT_CONNECTIONS} conns",
                   f"p99 ms at {THROUGHPUT_CONNECTIONS} conns", "non-2xx"])
    for name, (_, _, target) in routes.items():
        runs, busy = latency[name], saturated[name]
        p99 = median([r.p99_ms for r in runs])
        table.add(name, median([r.p50_ms for r in runs]), p99, median([r.requests_per_second for r in runs]),
                  median([r.requests_per_second for r in busy]), median([r.p99_ms for r in busy]),
                  sum(r.non_2xx for r in runs + busy))
        table.target(f"{name} p99 at {LATENCY_CONNECTIONS} connections", p99, target, unit=" ms")
    if args.only:  # a part of the routes: its own results file, beside the whole run's
        report(f"api-{re.sub(r'[^a-z0-9]+', '-', args.only.split('|')[0].lower()).strip('-')}",
               f"python bench/api.py --only '{args.only}'", [table])
    else:
        report("api", "python bench/api.py", [table])


if __name__ == "__main__":
    main()
