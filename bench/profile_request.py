"""CPU cost of one request, in process (Flask test client), without gunicorn or wrk: for
tuning on a shared machine, where a load test would measure the neighbours too.

    PYTHONPATH=. .venv/bin/python bench/profile_request.py [PATH ...] [--runs 3] [--requests 300] [--profile N]
        [--sentry-traces RATE]

API paths get a fresh API key (deleted at the end), other paths the bench operator's
session (bench/api.py's account, added here if missing). Prints CPU ms per request
(process_time) for each run and their median; --profile N prints the top N functions of a
cProfile run by cumulative time. --sentry-traces sets a DSN (a local receiver in this process,
which only counts what it gets) at that traces rate: the CPU then includes the SDK's sending
thread.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import statistics
import sys
import time

_SENTRY = argparse.ArgumentParser(add_help=False)
_SENTRY.add_argument("--sentry-traces", type=float, default=None, metavar="RATE")
_SENTRY_TRACES = _SENTRY.parse_known_args()[0].sentry_traces

os.environ.update(DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"),
                  REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
                  SENTRY_DSN="", DEEPSEEK_API_KEY="", SECRET_KEY="bench-" + "k" * 40)
if _SENTRY_TRACES is not None:  # before the app is made: Sentry is set up with it
    from tests.sentry_receiver import SentryReceiver

    os.environ.update(SENTRY_DSN=SentryReceiver(keep=False).start().dsn,
                      SENTRY_TRACES_SAMPLE_RATE=str(_SENTRY_TRACES))

from sqlalchemy import delete, select  # noqa: E402

from chatcenter import api_keys, create_app  # noqa: E402
from chatcenter.models import ApiKey, Operator  # noqa: E402
from chatcenter.operators import create_operator  # noqa: E402

OPERATOR, PASSWORD = "bench@chatcenter.example", "bench-password-123"  # as bench/api.py
DEFAULT_PATHS = ["/api/chats?limit=50", "/api/chats?limit=50&awaiting_reply=true&urgency=high",
                 "/api/chats?limit=50&seller_id=7&category=delivery", "/api/chats/54321", "/"]


def sign_in(client, db) -> None:
    with db.session() as session:
        if session.scalar(select(Operator.id).where(Operator.email == OPERATOR)) is None:
            create_operator(session, OPERATOR, PASSWORD)
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"email": OPERATOR, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, answer.status_code


def cpu_ms(client, path: str, headers: dict, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        client.get(path, headers=headers)
    return (time.process_time() - start) / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser(parents=[_SENTRY])
    parser.add_argument("paths", nargs="*", default=DEFAULT_PATHS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    args = parser.parse_args()

    app = create_app()
    db = app.extensions["chatcenter"].db
    with db.session() as session:
        created = api_keys.create(session, "profile_request")
    api_client, page_client = app.test_client(), app.test_client()
    sign_in(page_client, db)
    try:
        for path in args.paths:
            api = path.startswith("/api/")
            client, headers = (api_client, {"Authorization": f"Bearer {created.key}"}) if api else (page_client, {})
            for _ in range(30):  # warm up: imports, template compilation, pool
                answer = client.get(path, headers=headers)
                assert answer.status_code == 200, (path, answer.status_code, answer.data[:300])
            runs = [cpu_ms(client, path, headers, args.requests) for _ in range(args.runs)]
            print(f"{path}: cpu ms/request {statistics.median(runs):.2f} (runs {', '.join(f'{r:.2f}' for r in runs)})")
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                cpu_ms(client, path, headers, args.requests)
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(args.profile)
    finally:
        with db.session() as session:
            session.execute(delete(ApiKey).where(ApiKey.id == created.id))


if __name__ == "__main__":
    main()
