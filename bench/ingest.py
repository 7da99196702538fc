"""Ingest: a seller's first sync of 20,000 chats and 200,000 events, on SQLite and PostgreSQL.

The WB stub (tests/stubs/wb_stub.py) serves the feed from a process of its own, in pages
of --page-size events (WB's own page size is not documented; 100 is assumed). Each run is
a fresh process doing one real `sync_seller_chats` into an empty database, so its peak RSS
is that sync's. WB's limit of 10 requests per 10 s would make the run take half an hour
and measure WB, not us: the bench's client has no rate limiter. Analysis is off (no
DeepSeek key), so no analysis is enqueued. Sizes alternate, rounds repeat; medians.

    .venv/bin/python bench/ingest.py [--rounds 2] [--page-size 100]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from harness import ROOT, Table, median, report

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
CHATS = 20_000
SIZES = (20_000, 200_000)  # events
TARGET_EVENTS_PER_S, TARGET_RSS_GROWTH_MB = 10_000, 20
TOKEN = "bench-token"


# ---- the WB stub's process -----------------------------------------------------------------

def fill_stub(stub, chats: int, events: int) -> None:
    """`chats` chats and `events` events spread over them, buyer and seller in turn. Built
    directly (not through add_event, which re-sorts the feed on every call)."""
    base = int(time.time() * 1000) - events - 1000
    for n in range(chats):
        stub.chats.append({"chatID": f"1:{uuid.UUID(int=n)}", "replySign": f"sign-{n:08d}",
                           "clientName": f"Покупатель {n}",
                           "goodCard": {"date": "2026-11-01T10:00:00Z", "nmID": 100000 + n, "price": 1490,
                                        "priceCurrency": "RUB", "rid": f"rid{n}", "size": "0"},
                           "lastMessage": {"text": "", "addTimestamp": base}})
    for i in range(events):
        chat = stub.chats[i % chats]
        event = {"chatID": chat["chatID"], "eventID": f"ev-{i:09d}", "eventType": "message",
                 "isNewChat": i < chats, "source": "rusite", "addTimestamp": base + i,
                 "addTime": "2026-11-01T10:00:00Z", "sender": "client" if (i // chats) % 2 == 0 else "seller",
                 "clientName": chat["clientName"], "message": {"text": f"Сообщение номер {i} о заказе"}}
        if event["isNewChat"]:
            event["replySign"] = chat["replySign"]
        stub.events.append(event)


def serve_stub(chats: int, events: int, page_size: int, ready, stop) -> None:
    from tests.stubs.wb_stub import WBStub

    with WBStub(valid_tokens=(TOKEN,), page_size=page_size) as stub:
        fill_stub(stub, chats, events)
        ready.put(stub.url)
        stop.wait()


# ---- one measured run (a process of its own) -----------------------------------------------

def database_url(kind: str, tmp: str) -> tuple[str, callable]:
    from sqlalchemy import create_engine, text

    if kind == "sqlite":
        return f"sqlite:///{tmp}/ingest-{uuid.uuid4().hex[:8]}.db", lambda: None
    schema = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}", drop


def run_one(kind: str, events: int, page_size: int) -> dict:
    from chatcenter import create_app
    from chatcenter.clients import wb
    from chatcenter.config import Settings
    from chatcenter.models import Base, Message, Seller
    from jobs import sync

    ctx = multiprocessing.get_context("spawn")  # the stub's memory is not ours
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve_stub, args=(CHATS, events, page_size, ready, stop), daemon=True)
    server.start()
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = database_url(kind, tmp)
        try:
            settings = Settings(database_url=url, redis_url=REDIS_URL, wb_api_base_url=ready.get(timeout=300),
                                deepseek_api_key="", sentry_environment="bench")
            app = create_app(settings, component="worker")
            db = app.extensions["chatcenter"].db
            Base.metadata.create_all(db.engine)
            with db.session() as session:
                seller = Seller(name="bench", wb_token=TOKEN)
                session.add(seller)
                session.flush()
                seller_id = seller.id

            class Unlimited(wb.WBClient):  # the bench measures us, not WB's 10 requests per 10 s
                @classmethod
                def for_seller(cls, base_url, token, redis, seller_id, **options):
                    return cls(base_url, token, **options)

            sync.WBClient = Unlimited
            sync.RUN_PAGES, sync.RUN_SECONDS = 10**9, 1e9  # one run for the whole feed: that is what is measured
            with app.app_context():
                started, cpu_started, pg_started = time.perf_counter(), time.process_time(), postgres_cpu()
                result = sync.sync_seller_chats(seller_id)
                seconds = time.perf_counter() - started
                # This process's CPU (all its threads; not the stub's): the figure a busy machine
                # disturbs least.
                cpu = time.process_time() - cpu_started
                pg_cpu = postgres_cpu() - pg_started
            with db.session() as session:
                stored = session.query(Message).count()
            app.extensions["chatcenter"].close()
        finally:
            stop.set()
            server.join(timeout=10)
            drop()
    stub = resource.getrusage(resource.RUSAGE_CHILDREN)  # the stub's process, joined above
    if stored != events or result["messages_added"] != events:
        raise SystemExit(f"error: {kind}: stored {stored} of {events} events; the sync is broken")
    return {"events_per_s": events / seconds, "seconds": seconds, "pages": result["pages"],
            "cpu_s_per_1000": cpu / events * 1000,
            "postgres_cpu_s_per_1000": pg_cpu / events * 1000 if kind == "postgresql" else 0.0,
            "stub_cpu_s_per_1000": (stub.ru_utime + stub.ru_stime) / events * 1000,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def postgres_cpu() -> float:
    """CPU seconds used so far by the machine's PostgreSQL processes alive now (Linux /proc):
    the server's share of the work, which the sync's own CPU figure does not show."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
            if "postgres" in head.partition("(")[2]:
                fields = rest.split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total / os.sysconf("SC_CLK_TCK")


def measure(kind: str, events: int, page_size: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--one", kind, str(events), "--page-size", str(page_size)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise SystemExit(f"error: ingest run {kind} {events} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def postgres_reachable() -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means: not measured, and the table says so
        return False
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="event counts, comma-separated")
    parser.add_argument("--one", nargs=2, metavar=("DB", "EVENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.page_size)))
        return

    sizes = [int(n) for n in args.sizes.split(",")]
    kinds = ["sqlite"] + (["postgresql"] if postgres_reachable() else [])
    runs: dict[tuple[str, int], list[dict]] = {(k, n): [] for k in kinds for n in sizes}
    for _ in range(args.rounds):
        for kind in kinds:
            for events in sizes:
                runs[(kind, events)].append(measure(kind, events, args.page_size))

    table = Table(f"first sync of {CHATS:,} chats, pages of {args.page_size} events, {args.rounds} rounds; medians",
                  ["database", "events", "events/s", "seconds", "CPU s / 1,000 events: sync", "PostgreSQL", "WB stub",
                   "peak RSS MB"])
    for kind in kinds:
        for events in sizes:
            got = runs[(kind, events)]
            table.add(kind, f"{events:,}", median(r["events_per_s"] for r in got), median(r["seconds"] for r in got),
                      *(median(r[key] for r in got) for key in ("cpu_s_per_1000", "postgres_cpu_s_per_1000",
                                                                 "stub_cpu_s_per_1000", "peak_rss_mb")))
        biggest, smallest = max(sizes), min(sizes)
        table.target(f"{kind} events/s at {biggest:,} events",
                     median(r["events_per_s"] for r in runs[(kind, biggest)]), TARGET_EVENTS_PER_S, at_most=False)
        growth = (median(r["peak_rss_mb"] for r in runs[(kind, biggest)])
                  - median(r["peak_rss_mb"] for r in runs[(kind, smallest)]))
        table.target(f"{kind} RSS growth from {smallest:,} to {biggest:,} events", growth, TARGET_RSS_GROWTH_MB,
                     unit=" MB")
    if "postgresql" not in kinds:
        table.note(f"PostgreSQL not measured: {PG_URL.split('@')[-1]} did not answer")
    table.note("WB's rate limit is off in this bench; the stub runs in a process of its own; analysis is off")
    table.note("CPU: the sync's process (all threads), the PostgreSQL server's processes, the WB stub's process "
               "(with filling its feed); their sum over the seconds shows how much the three overlap")
    report("ingest", "python bench/ingest.py", [table])


if __name__ == "__main__":
    main()
