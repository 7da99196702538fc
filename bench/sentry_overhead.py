"""What Sentry costs a request: in-process WSGI calls of /api/health, Sentry off vs on.

Each configuration runs in a fresh subprocess (sentry-sdk patches Flask once per process),
in rounds interleaved with the baseline; the medians are compared with the baseline
measured in the same run. Sentry reports to a local receiver, so sampled transactions
really leave through the transport.

    .venv/bin/python bench/sentry_overhead.py [--requests 2000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import ROOT, Table, median, report  # noqa: E402

CONFIGS = {
    "sentry off (empty DSN)": None,
    "DSN set, traces 0.0": 0.0,
    "DSN set, traces 0.1": 0.1,
    "DSN set, traces 1.0": 1.0,
}

CHILD = r"""
import json, sys, time
from chatcenter import create_app
from chatcenter.config import Settings
rate = json.loads(sys.argv[1]); dsn = sys.argv[2]; n = int(sys.argv[3]); db = sys.argv[4]
settings = Settings(database_url=f"sqlite:///{db}", sentry_dsn=dsn if rate is not None else "",
                    sentry_traces_sample_rate=rate or 0.0, sentry_environment="bench")
client = create_app(settings).test_client()
for _ in range(200):  # warm up
    client.get("/api/health")
start = time.perf_counter()
for _ in range(n):
    client.get("/api/health")
elapsed = time.perf_counter() - start
print(json.dumps({"us_per_request": elapsed / n * 1e6, "sentry_loaded": "sentry_sdk" in sys.modules}))
"""


def run_once(rate, dsn: str, requests: int, db: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(rate), dsn, str(requests), db],
                         cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from tests.sentry_receiver import SentryReceiver

    receiver = SentryReceiver().start()
    samples: dict[str, list[float]] = {name: [] for name in CONFIGS}
    loaded: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        for _ in range(args.rounds):  # interleaved, so drift hits every configuration alike
            for name, rate in CONFIGS.items():
                result = run_once(rate, receiver.dsn, args.requests, db)
                samples[name].append(result["us_per_request"])
                loaded[name] = result["sentry_loaded"]
    receiver.stop()

    baseline = median(samples["sentry off (empty DSN)"])
    table = Table(f"{args.rounds} rounds x {args.requests} requests of GET /api/health, in-process WSGI; medians",
                  ["configuration", "µs/request", "ratio", "sentry_sdk imported"])
    for name, values in samples.items():
        table.add(name, median(values), median(values) / baseline, loaded[name])
    report("sentry_overhead", "python bench/sentry_overhead.py", [table])


if __name__ == "__main__":
    main()
