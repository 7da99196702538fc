"""Soak: web (gunicorn) + 2 workers + cron for a while against a flaky WB stub (5% 5xx, 5%
429) and a DeepSeek stub that answers blank 5% of the time, while buyers write and an
operator reads and replies through the API. Then, once the queues drain:

- every WB message is stored once, and every reply once (sent to WB once, stored once);
- every chat with a buyer message has an analysis;
- no job is left started;
- the RSS of each long-lived process grew < 20 MB (after a warm-up);
- Sentry got one event per job that failed for good, and nothing else.

    .venv/bin/python bench/soak.py [--minutes 10] [--database sqlite|postgresql] [--database-url URL]
    make bench BENCH=soak BENCH_SOAK_DATABASE=postgresql

The database: a SQLite file in a temporary folder (the default, the service's own default),
or with `--database postgresql` a schema of its own (dropped afterwards) in BENCH_DATABASE_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/bench, as the other benches), or any
`--database-url`. Redis: a redis-server of its own on a spare port, as `make test` starts one
(nothing else's Redis is flushed). Writes bench/results/soak.md.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests
from harness import ROOT, Table, report  # noqa: E402  (puts the project on sys.path)
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from chatcenter import create_app  # noqa: E402
from chatcenter.config import Settings  # noqa: E402
from chatcenter.models import Chat, Message, Reply, ReplyState  # noqa: E402
from chatcenter.queues import QUEUE_NAMES, queue  # noqa: E402
from chatcenter.runtime import redis_client  # noqa: E402
from tests.helpers import WB_TOKEN, add_seller, settings_env, wait_until  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.sentry_receiver import SentryReceiver  # noqa: E402
from tests.stubs import deepseek_stub as ds  # noqa: E402
from tests.stubs.wb_stub import MESSAGE_PATH, WBStub  # noqa: E402
from tests.test_production import free_port, wait_for_port  # noqa: E402
from tests.test_processes import children  # noqa: E402

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench")
RSS_GROWTH_MAX_MB = 20.0
FAULT_SHARE = 0.05  # each of: WB 5xx, WB 429, DeepSeek blank
CHATS = 40
DRAIN_SECONDS = 240


class FlakyWBStub(WBStub):
    """The WB stub, with a 5xx or a 429 for a random share of requests; half of the 5xx
    answers to a reply come after WB took it (its gateway timed out)."""

    def _take_fault(self, path):
        planned = super()._take_fault(path)
        if planned is not None:
            return planned
        roll = random.random()
        if path == MESSAGE_PATH and roll < FAULT_SHARE / 2:  # WB took the reply, its gateway timed out
            return {"kind": "accept_fail", "status": 504, "path": path}
        if roll < FAULT_SHARE:
            return {"kind": "fail", "status": random.choice((500, 502, 503)), "headers": {}, "body": None}
        if roll < 2 * FAULT_SHARE:
            return {"kind": "fail", "status": 429, "body": None,
                    "headers": {"X-Ratelimit-Retry": "1", "X-Ratelimit-Reset": "1", "X-Ratelimit-Limit": "10"}}
        return None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Buyers(threading.Thread):
    """Buyers (and now and then the seller on WB's own site) writing into the chats."""

    def __init__(self, wb: WBStub):
        super().__init__(daemon=True)
        self.wb, self.stopped = wb, threading.Event()
        self.chats = [wb.add_chat(client_name=f"Покупатель {n}", text="") for n in range(CHATS)]
        self.opened: set[str] = set()

    def run(self) -> None:
        n = 0
        while not self.stopped.wait(0.3):
            chat = random.choice(self.chats)["chatID"]
            sender = "client" if chat not in self.opened or random.random() < 0.8 else "seller"
            self.wb.add_event(chat, text=f"сообщение {n}", sender=sender, is_new_chat=chat not in self.opened)
            self.opened.add(chat)
            n += 1


class Operator(threading.Thread):
    """An operator reading the API, and replying to a chat every few seconds."""

    def __init__(self, url: str, key: str):
        super().__init__(daemon=True)
        self.url, self.stopped = url, threading.Event()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self.statuses: dict[int, int] = {}
        self.errors: dict[str, int] = {}  # requests that got no answer, by exception
        self.unanswered: list[str] = []  # each one's time and message, to look into
        self.replies = 0

    def _call(self, method: str, path: str, **kwargs):
        try:
            response = self.session.request(method, self.url + path, timeout=10, **kwargs)
        except requests.RequestException as exc:
            name = f"{method} {path.split('?')[0]}: {type(exc).__name__}"
            self.errors[name] = self.errors.get(name, 0) + 1
            self.unanswered.append(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC {method} {path}: {exc}")
            return None
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response

    def run(self) -> None:
        tick = 0
        while not self.stopped.wait(0.2):
            tick += 1
            self._call("GET", "/api/health")
            listed = self._call("GET", "/api/chats?limit=20")
            chats = listed.json()["chats"] if listed is not None and listed.status_code == 200 else []
            if chats:
                self._call("GET", f"/api/chats/{random.choice(chats)['id']}")
            if chats and tick % 25 == 0:  # about every 5 s
                self.replies += 1
                self._call("POST", f"/api/chats/{random.choice(chats)['id']}/reply",
                           json={"text": f"Ответ оператора номер {self.replies}"})


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@contextmanager
def database(kind: str, url: str, folder: Path):
    """The soak's database URL: `url`, a SQLite file in `folder`, or a PostgreSQL schema of
    its own in PG_URL (dropped afterwards)."""
    if url or kind == "sqlite":
        yield url or f"sqlite:///{folder / 'soak.db'}"
        return
    schema = f"soak_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def own_redis(folder: Path):
    """A redis-server of the soak's own (no persistence, as `make run` starts one): nobody
    else's data is flushed, and nothing is left running."""
    server = RedisServer(folder, persistent=False).start()
    try:
        yield server
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs (default 10)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"),
                        default=os.environ.get("BENCH_SOAK_DATABASE") or "sqlite",
                        help="sqlite (a file in a temporary folder) or postgresql (a schema of its own in "
                             "BENCH_DATABASE_URL); default sqlite, or BENCH_SOAK_DATABASE")
    parser.add_argument("--database-url", default="", help="any database URL instead (its data is counted)")
    args = parser.parse_args()
    duration = args.minutes * 60
    receiver = SentryReceiver().start()
    with tempfile.TemporaryDirectory() as tmp, FlakyWBStub(valid_tokens=(WB_TOKEN,), page_size=20) as wb, \
            ds.DeepSeekStub() as deepseek, database(args.database, args.database_url, Path(tmp)) as database_url, \
            own_redis(Path(tmp)) as redis_server:
        folder = Path(tmp)
        redis = redis_client(redis_server.url)
        deepseek.responder = lambda body: ds.blank_content() if random.random() < FAULT_SHARE else None
        port = free_port()
        settings = Settings(
            database_url=database_url, redis_url=redis_server.url,
            sentry_dsn=receiver.dsn, sentry_environment="soak", sentry_traces_sample_rate=0.0,
            wb_api_base_url=wb.url, deepseek_api_base_url=deepseek.url, deepseek_api_key=deepseek.api_key,
            sync_interval_seconds=5, job_retry_delays=(1, 3, 10), secret_key="soak-secret-key-for-signing-inbox-sessions")
        env = {**settings_env(settings), "PYTHONPATH": str(ROOT), "GUNICORN_BIND": f"127.0.0.1:{port}",
               "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4", "GUNICORN_MAX_REQUESTS": "0",
               "GUNICORN_ACCESSLOG": ""}
        flask = [sys.executable, "-m", "flask", "--app", "chatcenter"]
        subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)
        key = subprocess.run(flask + ["api-keys", "create", "soak"], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True, timeout=60).stdout.splitlines()[-1]
        app = create_app(settings, component="cli")
        db = app.extensions["chatcenter"].db
        add_seller(app)

        processes = {
            "web": start([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], env,
                         folder / "web.log"),
            "worker 1": start([sys.executable, "worker.py"], env, folder / "worker1.log"),
            "worker 2": start([sys.executable, "worker.py"], env, folder / "worker2.log"),
            "cron": start([sys.executable, "-m", "chatcenter.poller"], env, folder / "cron.log"),
        }
        wait_for_port(port, processes["web"], "gunicorn")
        buyers, operator = Buyers(wb), Operator(f"http://127.0.0.1:{port}", key)
        buyers.start()
        operator.start()
        started = time.monotonic()

        def pids() -> dict[str, int]:
            found = {name: p.pid for name, p in processes.items()}
            for n, pid in enumerate(sorted(children(processes["web"].pid)), 1):
                found[f"web worker {n}"] = pid
            return found

        warm_up = min(max(20.0, duration * 0.1), duration / 2)
        time.sleep(warm_up)
        rss_start = {name: rss_mb(pid) for name, pid in pids().items()}
        time.sleep(max(0.0, duration - warm_up))
        rss_end = {name: rss_mb(pid) for name, pid in pids().items()}
        buyers.stopped.set()
        operator.stopped.set()
        buyers.join()
        operator.join()
        ran_for = time.monotonic() - started

        def buyer_chats_without_analysis() -> int:
            with db.session() as session:
                buyer_chats = select(Message.chat_id).where(Message.sender == "client").distinct()
                return session.scalar(select(func.count()).select_from(Chat).where(
                    Chat.id.in_(buyer_chats), Chat.latest_analysis_id.is_(None)))

        def stored_events() -> list[str]:
            with db.session() as session:
                return list(session.scalars(select(Message.wb_event_id)))

        def queues_idle() -> bool:
            return all(len(queue(redis, name)) == 0 and queue(redis, name).started_job_registry.count == 0
                       for name in QUEUE_NAMES)

        def wb_events() -> set[str]:  # replies sent during the drain add WB's echoes of them
            with wb.lock:
                return {e["eventID"] for e in wb.events}

        drained = wait_until(lambda: wb_events() <= set(stored_events()) and buyer_chats_without_analysis() == 0
                             and queues_idle(), timeout=DRAIN_SECONDS, interval=2.0)
        wb_events = wb_events()  # counted once the queues drained
        for name in ("worker 1", "worker 2", "cron", "web"):
            stop(processes[name])
        logs = {name: (folder / f).read_text() for name, f in
                (("web", "web.log"), ("worker 1", "worker1.log"), ("worker 2", "worker2.log"), ("cron", "cron.log"))}

        stored = stored_events()
        with db.session() as session:
            reply_rows = session.execute(select(Reply.text, Reply.state)).all()
            message_texts = list(session.scalars(select(Message.text).where(Message.sender == "seller")))
        sent_to_wb = [m.get("message") for m in wb.sent_messages]
        replies_sent = [text for text, state in reply_rows if state == ReplyState.SENT]
        failed_jobs = sum(queue(redis, name).failed_job_registry.count for name in QUEUE_NAMES)
        left_started = sum(queue(redis, name).started_job_registry.count for name in QUEUE_NAMES)
        receiver.wait_for("event", failed_jobs + 1, timeout=5)
        events = receiver.events
        no_analysis = buyer_chats_without_analysis()
        app.extensions["chatcenter"].close()
        redis.close()
    receiver.stop()

    checks = {
        "drained within the bound": drained,
        "every WB message stored once": len(stored) == len(set(stored)) and wb_events <= set(stored),
        "every reply sent to WB at most once and stored once":
            len(sent_to_wb) == len(set(sent_to_wb)) and all(message_texts.count(t) == 1 for t in replies_sent),
        "every reply asked for reached the buyer exactly once": all(wb.delivered(t) == 1 for t, _ in reply_rows),
        "every chat with a buyer message has an analysis": no_analysis == 0,
        "no job left started": left_started == 0,
        "Sentry: one event per job failed for good, nothing else": len(events) == failed_jobs,
        "no traceback in the web log": "Traceback" not in logs["web"],
        "worker and cron never quit": all(p.returncode in (0, -15) for p in processes.values()),
    }
    table = Table(f"soak: {ran_for / 60:.1f} min of load on {args.database_url and 'the given database' or args.database}, "
                  "web + 2 workers + cron; WB 5% 5xx + 5% 429, DeepSeek 5% blank", ["check", "result"])
    for name, ok in checks.items():
        table.add(name, "ok" if ok else "FAILED")
    unconfirmed = sum(1 for event_id in stored if event_id.startswith("reply:"))
    table.note(f"{len(wb_events)} WB events, {len(stored)} stored messages ({unconfirmed} of them replies the "
               f"feed had not confirmed); {len(reply_rows)} replies asked, "
               f"{len(replies_sent)} sent; {failed_jobs} jobs failed for good, {len(events)} Sentry events")
    table.note(f"operator's answers by status: {dict(sorted(operator.statuses.items()))}; "
               f"no answer: {operator.errors or 'none'}")
    for line in operator.unanswered[:10]:
        table.note(f"unanswered: {line}")
    rss = Table("RSS per long-lived process (MB), after the warm-up and at the end of the load",
                ["process", "after warm-up", "at the end", "growth"])
    for name in rss_start:
        grown = rss_end.get(name, 0.0) - rss_start[name]
        rss.add(name, rss_start[name], rss_end.get(name, 0.0), grown)
        checks[f"RSS of {name}"] = rss.target(f"{name} RSS growth", grown, RSS_GROWTH_MAX_MB, unit=" MB")
    report("soak", f"python bench/soak.py --minutes {args.minutes:g}", [table, rss])
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        print(f"error: soak checks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
