"""RQ worker: `python worker.py [QUEUE ...]` (default: sync analysis default).

Sentry is initialised here, once, before the worker forks work-horses, so every job
inherits it; jobs reach the database and Redis through chatcenter.runtime.
"""
from __future__ import annotations

import argparse
import logging

from chatcenter import configure_logging
from chatcenter.config import load_settings_or_exit
from chatcenter.queues import QUEUE_NAMES
from chatcenter.runtime import Runtime, install
from chatcenter.sentry import init_sentry

log = logging.getLogger("chatcenter.worker")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="chatcenter RQ worker")
    parser.add_argument("queues", nargs="*", default=list(QUEUE_NAMES), help="queues to listen on, in priority order")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--simple", action="store_true", help="run jobs in this process (no fork)")
    return parser.parse_args(argv)


def build_worker(runtime: Runtime, queue_names, simple: bool = False):
    from rq import Queue, SimpleWorker, Worker

    queues = [Queue(name, connection=runtime.redis) for name in queue_names]
    worker_class = SimpleWorker if simple else Worker
    return worker_class(queues, connection=runtime.redis)


def warn_about_configuration(settings) -> None:
    if not settings.deepseek_api_key:
        log.warning("DEEPSEEK_API_KEY is empty: analysis jobs will fail until it is set")


def main(argv=None) -> None:
    args = parse_args(argv)
    configure_logging()
    settings = load_settings_or_exit()
    unknown = set(args.queues) - set(QUEUE_NAMES)
    if unknown:
        raise SystemExit(f"unknown queue(s): {', '.join(sorted(unknown))}; known: {', '.join(QUEUE_NAMES)}")
    init_sentry(settings, "worker")
    warn_about_configuration(settings)
    runtime = install(Runtime(settings))
    worker = build_worker(runtime, args.queues, simple=args.simple)
    # SIGTERM: RQ finishes the current job, then exits (warm shutdown).
    worker.work(burst=args.burst, with_scheduler=True, logging_level="INFO")


if __name__ == "__main__":
    main()
