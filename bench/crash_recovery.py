"""Seconds from kill -9 of a real worker and its work-horse mid-job until that subject's job
runs again, per job kind (sync, analysis, reply); the goal is ≤ 30 s. The scenarios are
tests/crash_scenarios.py (the same ones tests/test_crash_recovery.py checks); each also
checks that nothing was lost or sent twice.

    .venv/bin/python bench/crash_recovery.py [--rounds 1]

Uses BENCH_REDIS_URL (default redis://127.0.0.1:6379/12; flushed) and a SQLite file.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from harness import Table, median, report  # noqa: E402  (puts the project on sys.path)

from chatcenter import create_app  # noqa: E402
from chatcenter.config import Settings  # noqa: E402
from chatcenter.models import Base  # noqa: E402
from chatcenter.runtime import redis_client  # noqa: E402
from tests import crash_scenarios  # noqa: E402
from tests.helpers import WB_TOKEN  # noqa: E402
from tests.stubs.deepseek_stub import DeepSeekStub  # noqa: E402
from tests.stubs.wb_stub import WBStub  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
GOAL = 30.0


def one_round(kind: str, folder: Path) -> float:
    redis = redis_client(REDIS_URL)
    redis.flushdb()
    with WBStub(valid_tokens=(WB_TOKEN,)) as wb, DeepSeekStub() as deepseek:
        settings = Settings(database_url=f"sqlite:///{folder / (kind + '.db')}", redis_url=REDIS_URL,
                            sentry_environment="bench", wb_api_base_url=wb.url, deepseek_api_base_url=deepseek.url,
                            deepseek_api_key=deepseek.api_key, job_retry_delays=(0, 0))
        app = create_app(settings, component="worker")
        Base.metadata.create_all(app.extensions["chatcenter"].db.engine)
        try:
            with app.app_context():
                if kind == "sync":
                    return crash_scenarios.sync_killed_mid_run(app, settings, wb)
                if kind == "analysis":
                    return crash_scenarios.analysis_killed_mid_run(app, settings, wb, deepseek)
                return crash_scenarios.reply_killed_mid_send(app, settings, wb)
        finally:
            app.extensions["chatcenter"].close()
            redis.flushdb()
            redis.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    kinds = ("sync", "analysis", "reply")
    figures: dict[str, list[float]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for kind in kinds:
                folder = Path(tmp) / f"round{n}"
                folder.mkdir(exist_ok=True)
                figures[kind].append(one_round(kind, folder))

    table = Table(f"kill -9 of worker + work-horse mid-job -> that subject's job running again; "
                  f"{args.rounds} round(s), a replacement worker started at once",
                  ["job", "seconds (median)", "worst", "what brings it back"])
    how = {"sync": "the next sync request (cron or operator) once the 15 s lease lapsed",
           "analysis": "the next analysis request (a sync, or an operator) once the lease lapsed",
           "reply": "the periodic fan-out (every SYNC_INTERVAL, 10 s here) settles it as unconfirmed"}
    for kind in kinds:
        table.add(kind, median(figures[kind]), max(figures[kind]), how[kind])
        table.target(f"{kind} recovery", max(figures[kind]), GOAL, unit=" s")
    table.note("nothing lost or doubled in any round (checked by each scenario)")
    report("crash_recovery", "python bench/crash_recovery.py", [table])


if __name__ == "__main__":
    main()
