"""Jobs per second of the real forking worker (`python worker.py --burst`), Sentry off vs on.

Two job kinds: a no-op (`math.floor(1)`) and a failing one (`math.sqrt(-1)`, ValueError, no
retries, so each failure is one Sentry event). Sentry on means a DSN pointing at a local
receiver, at the default trace rate (0.1). Configurations alternate, rounds repeat, medians;
throughput is measured from the jobs' own start and end times, so the worker's start-up does
not count.

    .venv/bin/python bench/worker_throughput.py [--jobs 300] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import ROOT, Table, median, report  # noqa: E402

from chatcenter.queues import queue  # noqa: E402
from chatcenter.runtime import redis_client  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
JOBS = {"no-op": ("math.floor", 1), "failing": ("math.sqrt", -1)}
CONFIGS = {"sentry off": None, "sentry on (traces 0.1)": 0.1}


def run_round(kind: str, rate, jobs: int, dsn: str, db: str) -> float:
    redis = redis_client(REDIS_URL)
    redis.flushdb()
    func, arg = JOBS[kind]
    target = queue(redis, "default")
    enqueued = [target.enqueue(func, arg, result_ttl=600, failure_ttl=600) for _ in range(jobs)]
    env = {**os.environ, "REDIS_URL": REDIS_URL, "DATABASE_URL": f"sqlite:///{db}",
           "SENTRY_DSN": dsn if rate is not None else "", "SENTRY_TRACES_SAMPLE_RATE": str(rate or 0),
           "SENTRY_ENVIRONMENT": "bench", "DEEPSEEK_API_KEY": "", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "worker.py", "--burst", "default"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    for job in enqueued:
        job.refresh()
    started = min(job.started_at for job in enqueued)
    ended = max(job.ended_at for job in enqueued)
    redis.flushdb()
    return jobs / (ended - started).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from tests.sentry_receiver import SentryReceiver

    receiver = SentryReceiver().start()
    rates: dict[tuple[str, str], list[float]] = {(k, c): [] for k in JOBS for c in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        for _ in range(args.rounds):  # alternated, so drift hits every configuration alike
            for kind in JOBS:
                for name, rate in CONFIGS.items():
                    rates[(kind, name)].append(run_round(kind, rate, args.jobs, receiver.dsn, db))
    events = len(receiver.events)
    receiver.stop()

    table = Table(f"forking worker, {args.jobs} jobs x {args.rounds} rounds per configuration; medians",
                  ["job", "configuration", "jobs/s", "ratio to Sentry off"])
    for kind in JOBS:
        baseline = median(rates[(kind, "sentry off")])
        for name in CONFIGS:
            value = median(rates[(kind, name)])
            table.add(kind, name, value, value / baseline)
    no_op_ratio = median(rates[("no-op", "sentry on (traces 0.1)")]) / median(rates[("no-op", "sentry off")])
    table.target("no-op jobs/s with Sentry on, as a share of off", no_op_ratio, 0.85, at_most=False)
    table.note(f"the receiver got {events} error events from the failing jobs "
               f"(expected {args.jobs * args.rounds}: one per failed job)")
    report("worker_throughput", "python bench/worker_throughput.py", [table])


if __name__ == "__main__":
    main()
