"""What Sentry costs the web stack: requests/s of GET /api/chats?limit=50 under gunicorn + wrk,
Sentry off vs a DSN (a local receiver) at traces 0, 0.1 and 1.0; and whether a health probe
ever makes a transaction.

Each configuration is its own gunicorn (sentry-sdk is set up once per process), all four
running at once, idle but for the one wrk drives. A cycle gives each a short slice of load,
in an order that rotates from cycle to cycle; a ratio is the median, over cycles, of a
configuration's figure over the same cycle's Sentry-off figure. Shared machines change speed
from one second to the next (seen here: twofold within seconds), so slices are short and
many: a minute-long run per configuration measured the neighbours. Each DSN has a sink of its
own (bench/sentry_sink.py: counts envelopes in a process of its own, as cheaply as it can,
for sentry.io's work is done on other machines; on port 80 of its own 127.0.0.x, so the DSN
names no port, as sentry.io's does), so envelopes still arriving from one slice
are never counted for another. The health probes are checked afterwards, against a gunicorn
at traces 1.0 whose receiver decodes what it gets. The database is bench/api.py's (100,000
chats).

    .venv/bin/python bench/sentry_web.py [--cycles 12] [--seconds 2]
"""
from __future__ import annotations

import argparse
import time
import urllib.request
from contextlib import ExitStack

from api import ensure_data, env, flask
from harness import Table, median, report
from sentry_sink import SentrySink
from web_load import gunicorn, wrk

CONFIGS = {"sentry off": None, "DSN, traces 0": 0.0, "DSN, traces 0.1": 0.1, "DSN, traces 1.0": 1.0}
PATH = "/api/chats?limit=50"
PROBES = 50  # of each health route


def probe_transactions(headers: dict) -> tuple[int, int]:
    """Transactions that health probes make at traces 1.0, and that one request of PATH
    makes (the check that the receiver gets transactions at all), decoded."""
    from tests.sentry_receiver import SentryReceiver

    receiver = SentryReceiver().start()
    try:
        settings = {**env(), "SENTRY_DSN": receiver.dsn, "SENTRY_TRACES_SAMPLE_RATE": "1.0",
                    "SENTRY_ENVIRONMENT": "bench"}
        with gunicorn(settings) as base:
            for _ in range(PROBES):
                urllib.request.urlopen(base + "/api/health").read()
                urllib.request.urlopen(base + "/api/health/ready").read()
            urllib.request.urlopen(urllib.request.Request(base + PATH, headers=headers)).read()
            time.sleep(3)  # the transport sends within a second or two
        names = [t["transaction"] for t in receiver.transactions]
        return sum(name.startswith("/api/health") for name in names), names.count(PATH.split("?")[0])
    finally:
        receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=12)
    parser.add_argument("--seconds", type=int, default=2, help="load slice per configuration and cycle")
    args = parser.parse_args()

    ensure_data(100_000)
    key = flask("api-keys", "create", "bench-sentry").strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {key}"}
    names = list(CONFIGS)
    rates: dict[str, list[float]] = {name: [] for name in names}
    requests: dict[str, float] = {name: 0.0 for name in names}
    with ExitStack() as stack:
        # One address each (127.0.0.2, .3, .4), so each can have port 80: a DSN without a port.
        sinks = {name: SentrySink(f"127.0.0.{i + 1}").start()
                 for i, name in enumerate(names) if CONFIGS[name] is not None}
        for sink in sinks.values():
            stack.callback(sink.stop)
        bases = {}
        for name in names:
            rate = CONFIGS[name]
            settings = {**env(), "SENTRY_DSN": sinks[name].dsn if rate is not None else "",
                        "SENTRY_TRACES_SAMPLE_RATE": str(rate or 0), "SENTRY_ENVIRONMENT": "bench"}
            bases[name] = stack.enter_context(gunicorn(settings))
        for name in names:
            wrk(bases[name] + PATH, seconds=2, headers=headers)  # warm up
        time.sleep(2)
        sent_before = {name: sink.count() for name, sink in sinks.items()}
        for n in range(args.cycles):
            for name in names[n % len(names):] + names[:n % len(names)]:
                load = wrk(bases[name] + PATH, seconds=args.seconds, headers=headers)
                rates[name].append(load.requests_per_second)
                requests[name] += load.requests_per_second * args.seconds
        time.sleep(3)  # the last envelopes
        sent = {name: (sink.count() - sent_before[name]) / requests[name] for name, sink in sinks.items()}
        port_in_dsn = any(sink.port_in_dsn for sink in sinks.values())
    probes, chats = probe_transactions(headers)

    paired = {name: [rate / off for rate, off in zip(rates[name], rates["sentry off"])] for name in names}
    baseline = median(rates["sentry off"])
    table = Table(f"GET {PATH} under gunicorn (gunicorn.conf.py defaults) and wrk, 8 connections, "
                  f"{args.cycles} cycles of {args.seconds} s per configuration; medians",
                  ["configuration", "requests/s", "ratio to off (ratio of medians)", "ratio to off (same cycle)"])
    for name in names:
        table.add(name, median(rates[name]), median(rates[name]) / baseline, median(paired[name]))
    table.target("traces 0 as a share of off (same cycle)", median(paired["DSN, traces 0"]), 0.90, at_most=False)
    table.target("traces 0.1 as a share of off (same cycle)", median(paired["DSN, traces 0.1"]), 0.85,
                 at_most=False)
    for name in names[1:]:
        table.note(f"{name}, cycle by cycle: " + ", ".join(f"{r:.2f}" for r in paired[name])
                   + f"; envelopes its sink got per request: {sent[name]:.3f}")
    table.note(f"health probes at traces 1.0 made {probes} transactions "
               f"({PROBES} probes each of /api/health and /api/health/ready; one {PATH} made {chats})")
    table.note("the DSNs name " + ("a port (port 80 could not be bound): each envelope the SDK sends is also "
                                   "recorded as an outgoing HTTP span and breadcrumb, which a production DSN is not"
                                   if port_in_dsn else "no port, as a production DSN (sentry.io's) does"))
    report("sentry_web", "python bench/sentry_web.py", [table])


if __name__ == "__main__":
    main()
