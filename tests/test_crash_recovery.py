"""kill -9 of a real worker and its work-horse mid-job: the subject's job runs again within
seconds (the lease lapses, the enqueue check or the periodic fan-out takes the dead
"started" job for what it is), and nothing is lost or sent twice. The figure is printed;
bench/crash_recovery.py checks it against the 30 s goal."""
from __future__ import annotations

from dataclasses import replace

from tests import crash_scenarios


def report(kind: str, seconds: float) -> None:
    print(f"\nkill -9 mid-{kind} -> {kind} of that subject running again after {seconds:.1f} s")


def test_sync(job_app, job_settings, wb_stub):
    report("sync", crash_scenarios.sync_killed_mid_run(job_app, job_settings, wb_stub))


def test_analysis(job_app, job_settings, wb_stub, deepseek_stub):
    report("analysis", crash_scenarios.analysis_killed_mid_run(job_app, job_settings, wb_stub, deepseek_stub))


def test_reply(job_app, job_settings, wb_stub):
    report("reply", crash_scenarios.reply_killed_mid_send(job_app, job_settings, wb_stub))


def test_reply_killed_before_wb_took_it(job_app, job_settings, wb_stub):
    settings = replace(job_settings, sync_interval_seconds=2)  # the feed is trusted after two polls: 4 s
    report("reply (WB never took it)", crash_scenarios.reply_killed_before_wb_took_it(job_app, settings, wb_stub))
