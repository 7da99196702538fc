"""The RQ worker: `python worker.py [QUEUE ...]` (default: sync analysis reply default).

The app (settings, Sentry, database, Redis) is built here once, before the worker forks
work-horses, and its context stays pushed, so every job reaches the same resources
through chatcenter.runtime. Job rules (one run per subject, permanent errors end
retries) come with RuledWorker.
"""
from __future__ import annotations

import argparse
import importlib
import logging

from chatcenter import create_app, runtime, startup
from chatcenter.job_rules import (WORKER_OPTIONS, RuledSimpleWorker, RuledWorker, install_quiet_failures,
                                  work_until_stopped)
from chatcenter.queues import JOB_KINDS, QUEUE_NAMES, queue

log = logging.getLogger("chatcenter.worker")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="chatcenter RQ worker")
    parser.add_argument("queues", nargs="*", default=list(QUEUE_NAMES), help="queues to listen on, in priority order")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--simple", action="store_true", help="run jobs in this process (no fork)")
    return parser.parse_args(argv)


def preload_jobs() -> None:
    """Import the jobs' modules once, here: every forked work-horse then starts with them
    (and requests, the models) loaded, instead of importing them again for each job
    (about 0.2 s of CPU per job, measured by bench/freshness.py)."""
    from sqlalchemy.orm import configure_mappers

    for kind in JOB_KINDS:
        importlib.import_module(kind.func.rsplit(".", 1)[0])
    configure_mappers()


def build_worker(resources: runtime.Resources, queue_names, simple: bool = False):
    worker_class = RuledSimpleWorker if simple else RuledWorker
    return worker_class([queue(resources.redis, name) for name in queue_names], connection=resources.redis,
                        **WORKER_OPTIONS)


def main(argv=None) -> None:
    args = parse_args(argv)
    unknown = set(args.queues) - set(QUEUE_NAMES)
    if unknown:
        raise SystemExit(f"unknown queue(s): {', '.join(sorted(unknown))}; known: {', '.join(QUEUE_NAMES)}")
    app = create_app(component="worker")
    with app.app_context():
        resources = runtime.get()
        startup.require_dependencies(resources)  # one line and exit, not a job failing forever
        if not resources.settings.analysis_enabled:
            log.warning("analysis is off: DEEPSEEK_API_KEY is empty, so no chat is analysed")
        preload_jobs()
        install_quiet_failures()
        # SIGTERM: RQ finishes the current job, then exits (warm shutdown). A Redis outage
        # does not end the worker: it waits for Redis and resumes.
        work_until_stopped(lambda: build_worker(resources, args.queues, simple=args.simple), resources.redis,
                           burst=args.burst, with_scheduler=True, logging_level="INFO")


if __name__ == "__main__":
    main()
