"""The poller's cost per empty poll, and several pollers sharing the sellers.

A WB stand-in (bench/wb_world.py, its own process) whose buyers write nothing: every poll
is empty. P poller processes (`python -m chatcenter.poller`) poll N sellers every I seconds
on PostgreSQL (the scratch database `freshness`, dropped and made anew) and Redis. Measured
over the run, after a warm-up: polls counted at the stand-in, the pollers' CPU (/proc, the
stand-in and this script not counted), CPU per poll, the fewest and most polls of one seller
(each should be polled duration / I times), and the shortest gap between two polls of one
seller (never less than I: no seller polled twice in an interval).

    .venv/bin/python bench/poller_cost.py [--sellers 2000] [--pollers 2] [--interval 5] [--duration 60]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from freshness import add_sellers, app_env, fresh_database, get_json, process, tree_cpu_seconds, world
from harness import Table, report

from chatcenter.runtime import redis_client

TARGET_MS_PER_POLL = 2.0


def run(sellers: int, pollers: int, interval: float, duration: float, warmup: float, logs: Path) -> dict:
    from freshness import REDIS_URL

    redis_client(REDIS_URL).flushdb()
    fresh_database()
    start = time.time() + 3600  # the buyers never start: every poll is empty
    with ExitStack() as stack:
        wb_url, _world_pid = stack.enter_context(world(sellers, 1e9, start, 1.0))
        env = {**app_env(wb_url, _NoDeepSeek()), "SYNC_INTERVAL_SECONDS": str(int(interval)),
               "DEEPSEEK_API_KEY": ""}
        from freshness import flask

        flask(env, "db", "upgrade")
        add_sellers(sellers)
        procs = [stack.enter_context(process([sys.executable, "-m", "chatcenter.poller"], env,
                                             logs / f"poller{n}.log")) for n in range(pollers)]
        time.sleep(warmup)  # every poller up, the split settled, each seller on its cadence
        pids = [p.pid for p in procs]
        before, t0 = tree_cpu_seconds(pids), time.time()
        time.sleep(duration)
        cpu, t1 = tree_cpu_seconds(pids) - before, time.time()
        requests = get_json(wb_url + "/_world/requests")
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"a poller exited during the run; see {logs}")
    per_seller = [[t for t in times if t0 <= t < t1] for times in requests.values()]
    polls = sum(len(times) for times in per_seller)
    gaps = [b - a for times in requests.values() for a, b in zip(times, times[1:]) if t0 <= a < t1]
    return {"polls": polls, "cpu": cpu, "seconds": t1 - t0, "fewest": min(map(len, per_seller)),
            "most": max(map(len, per_seller)), "shortest_gap": min(gaps) if gaps else None,
            "longest_gap": max(gaps) if gaps else None}


class _NoDeepSeek:
    url, api_key = "http://127.0.0.1:9", ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sellers", type=int, default=2000)
    parser.add_argument("--pollers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=5)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--logs", help="keep the pollers' logs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="poller-cost-") as tmp:
        logs = Path(args.logs or tmp)
        logs.mkdir(parents=True, exist_ok=True)
        r = run(args.sellers, args.pollers, args.interval, args.duration, args.warmup, logs)
    ms_per_poll = 1000 * r["cpu"] / r["polls"] if r["polls"] else float("nan")
    expected = r["seconds"] / args.interval
    table = Table(f"empty polls: {args.sellers} sellers, {args.pollers} pollers, SYNC_INTERVAL_SECONDS="
                  f"{args.interval:g}, {r['seconds']:.0f} s; PostgreSQL and Redis",
                  ["polls", "polls/s", "pollers' CPU cores", "CPU ms per poll", "polls of one seller (expected)",
                   "shortest gap s", "longest gap s"])
    table.add(r["polls"], r["polls"] / r["seconds"], r["cpu"] / r["seconds"], ms_per_poll,
              f"{r['fewest']}-{r['most']} ({expected:.0f})", r["shortest_gap"], r["longest_gap"])
    table.target("CPU per empty poll", ms_per_poll, TARGET_MS_PER_POLL, unit=" ms")
    table.note("CPU of the poller processes only (/proc utime+stime), the WB stand-in, Redis and PostgreSQL "
               "not counted; the machine is shared (2 cores, other work running): read the figures as upper bounds")
    report("poller_cost", "python bench/poller_cost.py " + " ".join(sys.argv[1:]), [table])


if __name__ == "__main__":
    main()
