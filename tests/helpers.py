"""Helpers shared by the tests (fixtures live in conftest.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import fields

from sqlalchemy import select

from chatcenter.config import PROJECT_ROOT, Settings

# A WB token shaped like the real ones (a JWT), so privacy filters meet the real thing.
WB_TOKEN = (
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IjIwMjUwNTIwdjEiLCJ0eXAiOiJKV1QifQ."
    "eyJlbnQiOjEsImV4cCI6MTc5OTk5OTk5OSwiaWQiOiJ0ZXN0LXRva2VuIiwic2lkIjoiNDIifQ."
    "c2lnbmF0dXJlLW9mLXRoZS10ZXN0LXRva2VuLW5vdC1yZWFs"
)


def overrides(settings: Settings, **changes) -> dict:
    """All of `settings` as make_app keyword arguments, with `changes` applied."""
    return {**{f.name: getattr(settings, f.name) for f in fields(settings) if f.name != "notices"}, **changes}


def resources(app):
    return app.extensions["chatcenter"]


def add_seller(app, name="Test shop", token=WB_TOKEN) -> int:
    from chatcenter.models import Seller

    with resources(app).db.session() as session:
        seller = Seller(name=name, wb_token=token)
        session.add(seller)
        session.flush()
        return seller.id


def run_jobs(app, queues=("sync", "analysis", "reply", "attachments", "default")) -> None:
    """Run every queued job (retries included) in this process, as a worker would."""
    from chatcenter.job_rules import RuledSimpleWorker
    from chatcenter.queues import queue

    redis = resources(app).redis
    worker = RuledSimpleWorker([queue(redis, q) for q in queues], connection=redis)
    with app.app_context():
        worker.work(burst=True, with_scheduler=False, max_jobs=100)


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a separate process needs to run with exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "DEEPSEEK_", "WB_", "SYNC_"))}
    for f in fields(settings):
        if f.name == "notices":
            continue
        value = getattr(settings, f.name)
        if isinstance(value, tuple):
            value = ",".join(map(str, value))
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f.name.upper()] = "" if value is None else str(value)
    return env


def run_worker_process(settings: Settings, *queues: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python worker.py --burst`: the real worker, forking a work-horse per job."""
    return subprocess.run([sys.executable, "worker.py", "--burst", *queues], cwd=PROJECT_ROOT,
                          env=settings_env(settings), capture_output=True, text=True, timeout=timeout)


def start_process(settings: Settings, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=PROJECT_ROOT, env=settings_env(settings),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group, like a systemd unit


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def seed_wb(stub, chats=3, messages_per_chat=3):
    """Chats with alternating buyer/seller messages; the last one is the buyer's."""
    made = []
    for n in range(chats):
        chat = stub.add_chat(client_name=f"Покупатель {n}", text="")
        for m in range(messages_per_chat):
            sender = "client" if (messages_per_chat - m) % 2 == 1 else "seller"
            stub.add_event(chat["chatID"], text=f"сообщение {n}.{m}", sender=sender, is_new_chat=(m == 0))
        made.append(chat)
    return made


def rows(app):
    """The stored chats and messages, comparable between databases."""
    from chatcenter.models import Chat, Message

    with resources(app).db.session() as session:
        chats = sorted((c.wb_chat_id, c.client_name, c.reply_sign, c.awaiting_reply)
                       for c in session.scalars(select(Chat)))
        messages = sorted((m.wb_event_id, m.sender, m.text, m.sent_at) for m in session.scalars(select(Message)))
    return chats, messages
