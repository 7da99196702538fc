"""What Sentry costs the web stack: requests/s of GET /api/chats?limit=50 under gunicorn + wrk,
Sentry off vs a DSN (a local receiver) at traces 0, 0.1 and 1.0; and whether a health probe
ever makes a transaction.

Each configuration is its own gunicorn (sentry-sdk is set up once per process). A round
runs each once, in an order that rotates from round to round; a ratio is the median of
each round's figure over that round's Sentry-off figure (the machine's speed drifts
between minutes, not within a round's). The database is bench/api.py's (100,000 chats).

    .venv/bin/python bench/sentry_web.py [--rounds 3] [--seconds 6]
"""
from __future__ import annotations

import argparse
import time
import urllib.request

from api import ensure_data, env, flask
from harness import Table, median, report
from web_load import gunicorn, wrk

CONFIGS = {"sentry off": None, "DSN, traces 0": 0.0, "DSN, traces 0.1": 0.1, "DSN, traces 1.0": 1.0}
PATH = "/api/chats?limit=50"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    args = parser.parse_args()

    from tests.sentry_receiver import SentryReceiver

    ensure_data(100_000)
    key = flask("api-keys", "create", "bench-sentry").strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {key}"}
    # Counting only: decoding every envelope would take the CPU being measured (sentry.io's
    # work is done on other machines); the probes' transactions are decoded below.
    receiver = SentryReceiver(keep=False).start()
    rates: dict[str, list[float]] = {name: [] for name in CONFIGS}
    paired: dict[str, list[float]] = {name: [] for name in CONFIGS}
    sent: dict[str, list[float]] = {name: [] for name in CONFIGS}  # envelopes per request
    probe_transactions = 0
    names = list(CONFIGS)
    for n in range(args.rounds):
        for name in names[n % len(names):] + names[:n % len(names)]:
            rate = CONFIGS[name]
            settings = {**env(), "SENTRY_DSN": receiver.dsn if rate is not None else "",
                        "SENTRY_TRACES_SAMPLE_RATE": str(rate or 0), "SENTRY_ENVIRONMENT": "bench"}
            with gunicorn(settings) as base:
                wrk(base + PATH, seconds=2, headers=headers)  # warm up
                before = receiver.envelopes_seen
                rates[name].append(wrk(base + PATH, seconds=args.seconds, headers=headers).requests_per_second)
                sent[name].append((receiver.envelopes_seen - before) / (rates[name][-1] * args.seconds))
                if rate == 1.0:
                    receiver.clear()
                    receiver.keep = True
                    for _ in range(50):
                        urllib.request.urlopen(base + "/api/health").read()
                        urllib.request.urlopen(base + "/api/health/ready").read()
                    time.sleep(3)  # the transport sends within a second or two
                    probe_transactions += sum(t["transaction"].startswith("/api/health")
                                              for t in receiver.transactions)
                    receiver.keep = False
        for name in CONFIGS:
            paired[name].append(rates[name][-1] / rates["sentry off"][-1])
    receiver.stop()

    baseline = median(rates["sentry off"])
    table = Table(f"GET {PATH} under gunicorn (gunicorn.conf.py defaults) and wrk, 8 connections, "
                  f"{args.seconds} s x {args.rounds} rounds; medians",
                  ["configuration", "requests/s", "ratio to off (ratio of medians)", "ratio to off (paired rounds)"])
    for name in CONFIGS:
        table.add(name, median(rates[name]), median(rates[name]) / baseline, median(paired[name]))
    table.target("traces 0 as a share of off (paired rounds)", median(paired["DSN, traces 0"]), 0.90, at_most=False)
    table.target("traces 0.1 as a share of off (paired rounds)", median(paired["DSN, traces 0.1"]), 0.85,
                 at_most=False)
    for name in list(CONFIGS)[1:]:
        table.note(f"{name}, round by round: " + ", ".join(f"{r:.2f}" for r in paired[name])
                   + f"; envelopes the receiver got per request: {median(sent[name]):.3f}")
    table.note(f"health probes at traces 1.0 made {probe_transactions} transactions "
               f"({100 * args.rounds} probes of /api/health and /api/health/ready)")
    report("sentry_web", "python bench/sentry_web.py", [table])


if __name__ == "__main__":
    main()
