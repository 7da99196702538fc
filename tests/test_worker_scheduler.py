"""RQ's retry scheduler dying (Redis at maxmemory killed it in a soak, issue 28 §7): the
real worker notices and starts it again within 30 s, and a scheduled retry still runs."""
from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

from rq.job import Job

from chatcenter.actions import request_sync
from chatcenter.queues import SYNC_JOB
from tests.helpers import add_seller, overrides, resources, start_process, wait_until


def children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(child) for child in path.read_text().split()} if path.exists() else set()


def test_a_killed_scheduler_is_back_within_30_s_and_runs_the_retry(make_app, job_settings, wb_stub, redis_client):
    settings = replace(job_settings, job_retry_delays=(2,))
    app = make_app(**overrides(settings))
    seller_id = add_seller(app)
    worker = start_process(settings, "worker.py", "sync")
    try:
        # An idle worker's only child is its scheduler (a work-horse lives only for a job).
        assert wait_until(lambda: len(children(worker.pid)) == 1, timeout=20), "no scheduler started"
        [scheduler] = children(worker.pid)
        time.sleep(1)  # let it take its lock and settle, as a long-running one would have
        os.kill(scheduler, signal.SIGKILL)
        wb_stub.fail_next(500, count=1)  # the first attempt fails; its retry is due 2 s later
        killed_at = time.monotonic()
        request_sync(resources(app), seller_id)

        job_id = SYNC_JOB.job_id(seller_id)
        finished = wait_until(lambda: Job.fetch(job_id, connection=redis_client).is_finished, timeout=45,
                              interval=0.5)
        took = time.monotonic() - killed_at
        assert finished, f"the retry never ran ({Job.fetch(job_id, connection=redis_client).get_status()})"
        assert took < 32, took  # the retry's 2 s, plus at most one maintenance pass (15 s) and a wait
        assert scheduler not in children(worker.pid)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except Exception:
            worker.kill()
            worker.wait(timeout=5)
