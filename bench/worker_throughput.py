"""Jobs per second of the real forking worker (`python worker.py --burst`), Sentry off vs on.

Two job kinds: a no-op (`math.floor(1)`) and a failing one (`math.sqrt(-1)`, ValueError, no
retries, so each failure is one Sentry event). Sentry on means a DSN pointing at a local
receiver, at the default trace rate (0.1). Throughput is measured from the jobs' own start
and end times, so the worker's start-up does not count.

These machines lend their cores to neighbours: a round's wall-clock speed swings by half
from one minute to the next. So each round runs off and on back to back (in alternating
order) and the ratio is the median of those paired ratios. CPU milliseconds per job (the
worker and its work-horses, start-up taken out) are printed beside it: they do not count
the time the hypervisor took away, and show the same cost more steadily.

    .venv/bin/python bench/worker_throughput.py [--jobs 150] [--rounds 9] [--failing-rounds 2]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import ROOT, Table, median, report  # noqa: E402

from chatcenter.queues import queue  # noqa: E402
from chatcenter.runtime import redis_client  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
JOBS = {"no-op": ("math.floor", 1), "failing": ("math.sqrt", -1)}
OFF, ON = "sentry off", "sentry on (traces 0.1)"
RATES = {OFF: None, ON: 0.1}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # waited-for children and theirs
    return usage.ru_utime + usage.ru_stime


def stolen_share() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs so far, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return fields[7] if len(fields) > 7 else 0, sum(fields[:8])


def run_worker(config: str, dsn: str, db: str) -> float:
    """Run the worker until its queue is empty; return the CPU seconds it took."""
    rate = RATES[config]
    env = {**os.environ, "REDIS_URL": REDIS_URL, "DATABASE_URL": f"sqlite:///{db}",
           "SENTRY_DSN": dsn if rate is not None else "", "SENTRY_TRACES_SAMPLE_RATE": str(rate or 0),
           "SENTRY_ENVIRONMENT": "bench", "DEEPSEEK_API_KEY": "", "PYTHONPATH": str(ROOT)}
    before = children_cpu()
    subprocess.run([sys.executable, "worker.py", "--burst", "default"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return children_cpu() - before


def run_round(kind: str, config: str, jobs: int, dsn: str, db: str, startup_cpu: float) -> tuple[float, float]:
    """(jobs/s, CPU ms per job) of one worker run over `jobs` queued jobs."""
    redis = redis_client(REDIS_URL)
    redis.flushdb()
    func, arg = JOBS[kind]
    target = queue(redis, "default")
    enqueued = [target.enqueue(func, arg, result_ttl=600, failure_ttl=600) for _ in range(jobs)]
    cpu = run_worker(config, dsn, db)
    for job in enqueued:
        job.refresh()
    started = min(job.started_at for job in enqueued)
    ended = max(job.ended_at for job in enqueued)
    redis.flushdb()
    return jobs / (ended - started).total_seconds(), (cpu - startup_cpu) / jobs * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=9, help="paired rounds of no-op jobs")
    parser.add_argument("--failing-rounds", type=int, default=2, help="paired rounds of failing jobs")
    args = parser.parse_args()

    from tests.sentry_receiver import SentryReceiver

    receiver = SentryReceiver().start()
    rounds = {"no-op": args.rounds, "failing": args.failing_rounds}
    results: dict[tuple[str, str], list[tuple[float, float]]] = {(k, c): [] for k in JOBS for c in RATES}
    paired: dict[str, list[float]] = {k: [] for k in JOBS}
    steal_start = stolen_share()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        redis_client(REDIS_URL).flushdb()
        # A worker's start-up (imports, app, Sentry) with nothing to do, taken out of each round.
        startup = {c: median([run_worker(c, receiver.dsn, db) for _ in range(3)]) for c in RATES}
        for kind in JOBS:
            for n in range(rounds[kind]):
                order = (OFF, ON) if n % 2 == 0 else (ON, OFF)  # neither always runs first
                got = {c: run_round(kind, c, args.jobs, receiver.dsn, db, startup[c]) for c in order}
                for config, figures in got.items():
                    results[(kind, config)].append(figures)
                paired[kind].append(got[ON][0] / got[OFF][0])
    steal_end = stolen_share()
    events = len(receiver.events)
    receiver.stop()

    table = Table(f"forking worker, {args.jobs} jobs a round; {args.rounds} paired rounds of no-op jobs, "
                  f"{args.failing_rounds} of failing ones; medians",
                  ["job", "configuration", "jobs/s", "on/off, paired rounds", "CPU ms per job", "CPU ratio"])
    for kind in JOBS:
        off_cpu = median([cpu for _, cpu in results[(kind, OFF)]])
        for config in RATES:
            rate = median([r for r, _ in results[(kind, config)]])
            cpu = median([c for _, c in results[(kind, config)]])
            ratio = 1.0 if config == OFF else median(paired[kind])
            table.add(kind, config, rate, ratio, cpu, off_cpu / cpu)
    table.target("no-op jobs/s with Sentry on, as a share of off (median of paired rounds)",
                 median(paired["no-op"]), 0.85, at_most=False)
    table.note("paired no-op ratios, round by round: " + ", ".join(f"{r:.2f}" for r in paired["no-op"]))
    stolen = (steal_end[0] - steal_start[0]) / max(1, steal_end[1] - steal_start[1])
    table.note(f"CPU time the hypervisor gave to other machines during the run: {stolen:.1%}")
    expected = args.jobs * args.failing_rounds
    table.note(f"the receiver got {events} error events from the failing jobs "
               f"(expected {expected}: one per failed job)")
    report("worker_throughput", "python bench/worker_throughput.py", [table])


if __name__ == "__main__":
    main()
