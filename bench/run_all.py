"""`make bench`: every benchmark in turn; each writes bench/results/<name>.md.

    .venv/bin/python bench/run_all.py [NAME ...]     (default: all of BENCHES but the soak)

The soak runs ten minutes by itself: `make bench BENCH=soak`.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# name -> script; each prints its tables and exits non-zero only if it could not run.
BENCHES = {
    "sentry_overhead": "sentry_overhead.py",
    "worker_throughput": "worker_throughput.py",
    "api": "api.py",
    "sentry_web": "sentry_web.py",
    "sentry_real_work": "sentry_real_work.py",
    "freshness": "freshness.py",
    "poller_cost": "poller_cost.py",
    "crash_recovery": "crash_recovery.py",
    "soak": "soak.py",
    "ingest": "ingest.py",
}
OPT_IN = {"soak"}  # `make bench` stays within about 15 minutes without it


def main(argv: list[str]) -> int:
    chosen = argv or [name for name in BENCHES if name not in OPT_IN]
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        print(f"error: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        started = time.monotonic()
        print(f"== {name}", file=sys.stderr, flush=True)
        if subprocess.run([sys.executable, str(HERE / BENCHES[name])]).returncode != 0:
            failed.append(name)
        print(f"== {name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    if failed:
        print(f"error: benchmark(s) failed: {', '.join(failed)}; see the output above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
