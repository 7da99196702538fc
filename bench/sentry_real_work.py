"""What the stock Sentry integrations cost on real work, Sentry off vs a DSN at traces 0 and 0.1.

- api: GET /api/chats?limit=50 at 100,000 chats and 1,000,000 messages (PostgreSQL, filled by
  bench/seed_data.py), one gunicorn per configuration (gunicorn.conf.py, as production), all
  running at once; a keep-alive client in this process (no wrk on these machines) gives each a
  short slice of requests in an order that rotates by cycle.
- sync: `python worker.py --burst sync` (the forking worker) running one sync job per seller,
  each ingesting one page of 100 WB events from the WB stub into SQLite.
- analysis: the same worker running one analysis job per chat against the DeepSeek stub.

Jobs are timed from their own start and end stamps (first start to last end), so a worker's
start-up (importing sentry_sdk included) does not count; the horse's flush between jobs does.
Each ratio is the median, over cycles or rounds, of a configuration's figure over the Sentry-off
figure of the same cycle or round. On a shared machine those swing with the neighbours, so CPU
time is shown beside them: of the gunicorn processes per request (from /proc), of the worker
and its work-horses per job (its start-up with an empty queue taken out), Sentry's sending
threads included. Each DSN points at its own sink (bench/sentry_sink.py).

    .venv/bin/python bench/sentry_real_work.py [--only api,sync,analysis] [--rounds 5] [--cycles 8]
"""
from __future__ import annotations

import argparse
import http.client
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from harness import ROOT, Table, median, report

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
CONFIGS = {"sentry off": None, "DSN, traces 0": 0.0, "DSN, traces 0.1": 0.1}
TOKEN = "bench-token"
PAGE = 100  # WB events per sync job (one page)
PATH = "/api/chats?limit=50"


def rotated(n: int) -> list[str]:
    names = list(CONFIGS)
    return names[n % len(names):] + names[:n % len(names)]


def ratios(figures: dict[str, list[float]]) -> dict[str, list[float]]:
    return {name: [v / off for v, off in zip(figures[name], figures["sentry off"])] for name in figures}


# ---- api ----------------------------------------------------------------------------------

def gunicorn_cpu(base: str) -> float:
    """CPU seconds so far of the gunicorn (master and workers) serving `base`, from /proc."""
    marker = f"GUNICORN_BIND=127.0.0.1:{urlsplit(base).port}".encode()
    total = 0.0
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "environ").read_bytes().split(b"\0"):
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return total


def requests_per_second(base: str, headers: dict, seconds: float) -> float:
    """One keep-alive connection, sequential requests, for `seconds`."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    done, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        conn.request("GET", PATH, headers=headers)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise SystemExit(f"error: {PATH} answered {answer.status}")
        done += 1
    conn.close()
    return done / (time.perf_counter() - started)


def bench_api(cycles: int, seconds: float, sinks) -> Table:
    import api
    from sqlalchemy import create_engine, text
    from web_load import gunicorn

    admin = create_engine(api.DATABASE_URL.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # the database bench/api.py uses, made if missing
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = 'bench'")).scalar():
            conn.execute(text("CREATE DATABASE bench"))
    admin.dispose()
    api.ensure_data(100_000)
    key = api.flask("api-keys", "create", "bench-sentry-real-work").strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {key}"}
    figures: dict[str, list[float]] = {name: [] for name in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    with ExitStack() as stack:
        bases = {}
        for name, rate in CONFIGS.items():
            settings = {**api.env(), "SENTRY_DSN": sinks[name].dsn if rate is not None else "",
                        "SENTRY_TRACES_SAMPLE_RATE": str(rate or 0), "SENTRY_ENVIRONMENT": "bench"}
            bases[name] = stack.enter_context(gunicorn(settings))
        for name in CONFIGS:
            requests_per_second(bases[name], headers, 1.0)  # warm up
        for n in range(cycles):
            for name in rotated(n):
                before = gunicorn_cpu(bases[name])
                rate = requests_per_second(bases[name], headers, seconds)
                figures[name].append(rate)
                cpu[name].append((gunicorn_cpu(bases[name]) - before) / (rate * seconds) * 1000)
    paired = ratios(figures)
    table = Table(f"GET {PATH} at 100,000 chats / 1,000,000 messages (PostgreSQL), gunicorn per configuration, "
                  f"one keep-alive client; {cycles} cycles of {seconds:g} s each; medians",
                  ["configuration", "requests/s", "ratio to off (same cycle)", "gunicorn CPU ms per request",
                   "CPU ratio (off / this)"])
    off_cpu = median(cpu["sentry off"])
    for name in CONFIGS:
        table.add(name, median(figures[name]), median(paired[name]), median(cpu[name]), off_cpu / median(cpu[name]))
    table.target("traces 0.1 as a share of off (same cycle)", median(paired["DSN, traces 0.1"]), 0.90,
                 at_most=False)
    table.target("traces 0.1 as a share of off (CPU per request)", off_cpu / median(cpu["DSN, traces 0.1"]),
                 0.90, at_most=False)
    for name in list(CONFIGS)[1:]:
        table.note(f"{name}, cycle by cycle: " + ", ".join(f"{r:.2f}" for r in paired[name]))
    return table


# ---- jobs ---------------------------------------------------------------------------------

def fill_feed(stub, chats: int, per_chat: int) -> None:
    for n in range(chats):
        chat = stub.add_chat(client_name=f"Покупатель {n}", text="")
        for m in range(per_chat):
            sender = "client" if (per_chat - m) % 2 == 1 else "seller"  # the buyer's is last
            stub.add_event(chat["chatID"], text=f"Сообщение {m} о заказе {n}", sender=sender, is_new_chat=m == 0)


def prepare(kind: str, db_url: str, wb_url: str, ds, jobs: int) -> list[str]:
    """A fresh database whose `kind` jobs are queued (ids returned)."""
    from chatcenter import create_app
    from chatcenter.actions import request_sync
    from chatcenter.config import Settings
    from chatcenter.job_rules import run_now
    from chatcenter.models import Base, Seller
    from chatcenter.queues import SYNC_JOB
    from chatcenter.runtime import redis_client
    from jobs.sync import sync_seller_chats

    redis_client(REDIS_URL).flushdb()
    settings = Settings(database_url=db_url, redis_url=REDIS_URL, wb_api_base_url=wb_url,
                        deepseek_api_base_url=ds.url, deepseek_api_key=ds.api_key if kind == "analysis" else "",
                        sentry_dsn="", job_retry_delays=())
    app = create_app(settings, component="cli")
    resources = app.extensions["chatcenter"]
    Base.metadata.create_all(resources.db.engine)
    if not jobs:  # a worker's start-up, measured with nothing to do
        resources.close()
        return []
    sellers = jobs if kind == "sync" else 1
    with resources.db.session() as session:
        ids = []
        for n in range(sellers):
            seller = Seller(name=f"bench {n}", wb_token=TOKEN)
            session.add(seller)
            session.flush()
            ids.append(seller.id)
    if kind == "sync":
        queued = [request_sync(resources, seller_id).job_id for seller_id in ids]
    else:  # a sync first, Sentry off and in this process: it queues one analysis per chat
        with app.app_context():
            run_now(resources.redis, SYNC_JOB.job_id(ids[0]), sync_seller_chats, ids[0])
        from chatcenter.queues import ANALYSIS_JOB, queue

        queued = [job_id for job_id in queue(resources.redis, ANALYSIS_JOB.queue).job_ids]
    resources.close()
    return queued


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for children and theirs
    return usage.ru_utime + usage.ru_stime


def run_jobs(kind: str, config: str, db_url: str, wb_url: str, ds, sink, job_ids: list[str]) -> tuple[float, float]:
    """(jobs per second, CPU seconds) of one burst worker over the queued jobs."""
    from rq.job import Job

    from chatcenter.runtime import redis_client

    rate = CONFIGS[config]
    env = {**os.environ, "REDIS_URL": REDIS_URL, "DATABASE_URL": db_url, "WB_API_BASE_URL": wb_url,
           "DEEPSEEK_API_BASE_URL": ds.url, "DEEPSEEK_API_KEY": ds.api_key if kind == "analysis" else "",
           "SENTRY_DSN": sink.dsn if rate is not None else "", "SENTRY_TRACES_SAMPLE_RATE": str(rate or 0),
           "SENTRY_ENVIRONMENT": "bench", "JOB_RETRY_DELAYS": "", "PYTHONPATH": str(ROOT)}
    before = children_cpu()
    subprocess.run([sys.executable, "worker.py", "--burst", kind], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
    cpu = children_cpu() - before
    if not job_ids:
        return 0.0, cpu
    redis = redis_client(REDIS_URL)
    jobs = [Job.fetch(job_id, connection=redis) for job_id in job_ids]
    unfinished = [job.id for job in jobs if not job.is_finished]
    if unfinished:
        raise SystemExit(f"error: {kind} jobs did not finish under {config}: {unfinished[:3]}")
    started, ended = min(j.started_at for j in jobs), max(j.ended_at for j in jobs)
    return len(jobs) / (ended - started).total_seconds(), cpu


def bench_jobs(kind: str, rounds: int, jobs: int, sinks) -> Table:
    from tests.stubs.deepseek_stub import DeepSeekStub
    from tests.stubs.wb_stub import WBStub

    figures: dict[str, list[float]] = {name: [] for name in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    chats = PAGE // 10 if kind == "sync" else jobs
    with WBStub(valid_tokens=(TOKEN,), page_size=PAGE) as wb, DeepSeekStub() as ds, \
            tempfile.TemporaryDirectory() as tmp:
        fill_feed(wb, chats, 10 if kind == "sync" else 1)
        # A worker's start-up (imports, the app, Sentry) with nothing to do, taken out of each round.
        empty = f"sqlite:///{Path(tmp) / 'empty.db'}"
        prepare(kind, empty, wb.url, ds, 0)
        startup = {name: median([run_jobs(kind, name, empty, wb.url, ds, sinks.get(name), [])[1]
                                 for _ in range(3)]) for name in CONFIGS}
        for n in range(rounds):
            for name in rotated(n):
                db_url = f"sqlite:///{Path(tmp) / f'{kind}-{n}-{len(figures[name])}.db'}"
                job_ids = prepare(kind, db_url, wb.url, ds, jobs)
                rate, seconds = run_jobs(kind, name, db_url, wb.url, ds, sinks.get(name), job_ids)
                figures[name].append(rate)
                cpu[name].append((seconds - startup[name]) / len(job_ids) * 1000)
    paired = ratios(figures)
    what = (f"sync jobs, each ingesting one page of {PAGE} WB events" if kind == "sync"
            else "analysis jobs against the DeepSeek stub")
    table = Table(f"{what}: forking worker, {jobs} jobs a round, SQLite; {rounds} rounds; medians",
                  ["configuration", "jobs/s", "ratio to off (same round)", "CPU ms per job", "CPU ratio (off / this)"])
    off_cpu = median(cpu["sentry off"])
    for name in CONFIGS:
        table.add(name, median(figures[name]), median(paired[name]), median(cpu[name]), off_cpu / median(cpu[name]))
    table.target("traces 0.1 as a share of off (same round)", median(paired["DSN, traces 0.1"]), 0.90,
                 at_most=False)
    table.target("traces 0.1 as a share of off (CPU per job)", off_cpu / median(cpu["DSN, traces 0.1"]), 0.90,
                 at_most=False)
    for name in list(CONFIGS)[1:]:
        table.note(f"{name}, round by round: " + ", ".join(f"{r:.2f}" for r in paired[name]))
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="api,sync,analysis")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per job kind")
    parser.add_argument("--jobs", type=int, default=40, help="jobs per round")
    parser.add_argument("--cycles", type=int, default=8, help="API cycles")
    parser.add_argument("--seconds", type=float, default=2.0, help="API slice per configuration and cycle")
    args = parser.parse_args()
    from sentry_sink import SentrySink

    tables = []
    with ExitStack() as stack:
        sinks = {}
        for i, (name, rate) in enumerate(CONFIGS.items()):
            if rate is not None:  # one address each (127.0.0.2, .3), so each DSN names no port
                sinks[name] = SentrySink(f"127.0.0.{i + 1}").start()
                stack.callback(sinks[name].stop)
        for part in args.only.split(","):
            print(f"-- {part}", file=sys.stderr, flush=True)
            tables.append(bench_api(args.cycles, args.seconds, sinks) if part == "api"
                          else bench_jobs(part, args.rounds, args.jobs, sinks))
    report("sentry_real_work", "python bench/sentry_real_work.py " + " ".join(sys.argv[1:]), tables)


if __name__ == "__main__":
    main()
