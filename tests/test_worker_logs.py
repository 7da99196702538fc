"""What the real worker (`python worker.py`) writes in its log when jobs fail (issue 28 §6)."""
from __future__ import annotations

import rq

from chatcenter.actions import request_sync
from chatcenter.queues import SYNC_JOB
from tests.helpers import add_seller, overrides, resources, run_worker_process


def lines_about(log: str, needle: str) -> list[str]:
    return [line for line in log.splitlines() if needle in line]


def test_an_expected_failure_is_one_line_and_a_bug_keeps_its_traceback(make_app, job_settings, redis_client):
    app = make_app(**overrides(job_settings))
    refused = add_seller(app, token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3cm9uZyJ9.d3JvbmctdG9rZW4tc2lnbmF0dXJl")
    request_sync(resources(app), refused)  # WB answers 401: permanent
    bug = rq.Queue("chatcenter:default", connection=redis_client).enqueue("jobs.diagnostics.raise_test_error")

    result = run_worker_process(job_settings, "sync", "default")

    assert result.returncode == 0, result.stderr
    log = result.stderr
    [line] = lines_about(log, f"job {SYNC_JOB.job_id(refused)} ")
    assert "failed for good (permanent): WBAuthError" in line
    assert "Traceback" not in log.split(bug.id)[0]  # nothing before the bug's own lines
    # The bug: RQ's line with the whole traceback, as before.
    assert log.count("Traceback (most recent call last)") == 1
    assert "WorkerSentryTestError: Worker sentry-test error" in log


def test_a_transient_failure_says_it_will_be_tried_again(make_app, job_settings, wb_stub):
    app = make_app(**overrides(job_settings))  # retries at once (JOB_RETRY_DELAYS=0,0)
    seller_id = add_seller(app)
    wb_stub.fail_next(500, count=100)
    request_sync(resources(app), seller_id)

    result = run_worker_process(job_settings, "sync")

    assert result.returncode == 0, result.stderr
    lines = lines_about(result.stderr, f"job {SYNC_JOB.job_id(seller_id)} ")
    assert [line.split(f"job {SYNC_JOB.job_id(seller_id)} ")[1].split(":")[0] for line in lines] == [
        "will be tried again (2 attempt(s) left)", "will be tried again (1 attempt(s) left)",
        "failed for good (no attempts left)"]
    assert all("WBUnavailable" in line for line in lines)
    assert "Traceback" not in result.stderr
