"""The real processes: a worker stopped by SIGTERM, and web + worker + cron together
turning a new seller into stored chats within one cron round. (A worker killed mid-job:
tests/test_crash_recovery.py, which uses kill_hard below.)"""
from __future__ import annotations

import os
import signal
import subprocess

from sqlalchemy import func, select

from chatcenter.actions import request_sync
from chatcenter.models import Message, Seller, SyncState
from chatcenter.queues import queue
from tests.helpers import add_seller, resources, rows, run_worker_process, seed_wb, wait_until
from tests.helpers import start_process as start


def message_count(app) -> int:
    with app.extensions["chatcenter"].db.session() as session:
        return session.scalar(select(func.count()).select_from(Message))


def children(pid: int) -> list[int]:
    """Child pids of `pid` (the RQ work-horse runs in a process group of its own)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found


def kill_hard(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its work-horse, as an OOM kill or a power cut would."""
    for pid in children(process.pid) + [process.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.communicate(timeout=30)


def stop(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 30) -> str:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    output, _ = process.communicate(timeout=timeout)
    return output


def test_sigterm_lets_the_running_job_finish_then_stops(job_app, job_settings, wb_stub):
    seed_wb(wb_stub, chats=1, messages_per_chat=2)
    seller_id = add_seller(job_app)
    wb_stub.delay_next(2.0, path="/api/v1/seller/chats")
    request_sync(resources(job_app), seller_id)
    worker = start(job_settings, "worker.py", "sync")
    assert wait_until(lambda: any(r.path.endswith("/chats") for r in wb_stub.requests))

    worker.send_signal(signal.SIGTERM)  # to the main process only, as systemd's KillMode=mixed
    output, _ = worker.communicate(timeout=30)

    assert worker.returncode == 0, output
    assert message_count(job_app) == 2, output
    with job_app.extensions["chatcenter"].db.session() as session:
        assert session.get(Seller, seller_id).sync_state == SyncState.OK


def test_a_new_seller_is_synced_within_one_cron_round(job_app, job_settings, wb_stub):
    seed_wb(wb_stub, chats=2, messages_per_chat=2)
    result = job_app.test_cli_runner().invoke(args=["sellers", "add", "New shop"],
                                              input=next(iter(wb_stub.valid_tokens)) + "\n")
    assert result.exit_code == 0, result.output
    worker = start(job_settings, "worker.py")
    cron = start(job_settings, "-m", "chatcenter.poller")
    try:
        synced = wait_until(lambda: message_count(job_app) == 4, timeout=30)
    finally:
        outputs = stop(cron) + stop(worker)
    assert synced, outputs
    assert len(rows(job_app)[0]) == 2


def test_the_worker_lines_the_readme_shows_are_what_it_logs_on_stderr(job_app, job_settings, wb_stub):
    from chatcenter.config import PROJECT_ROOT
    from tests.helpers import run_worker_process

    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "`chatcenter:sync: Job OK (sync-seller-7)`" in readme
    assert "`seller 1 synced: 3 chats and 9 messages added in 3 pages, 3 analyses enqueued`" in readme
    seed_wb(wb_stub, chats=1)
    seller_id = add_seller(job_app)
    request_sync(resources(job_app), seller_id)

    result = run_worker_process(job_settings, "sync")

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # logs go to stderr
    assert f"chatcenter:sync: Job OK (sync-seller-{seller_id})" in result.stderr
    assert f"seller {seller_id} synced: 1 chats and 3 messages added in 1 pages, 1 analyses enqueued" in result.stderr


def job_modules_loaded() -> list[str]:
    """Run as a job: which job modules the work-horse had before it ran this one."""
    import sys

    return [name for name in ("jobs.sync", "jobs.analysis", "jobs.reply") if name in sys.modules]


def test_work_horses_start_with_the_job_modules_loaded(job_app, job_settings):
    # Each forked work-horse importing them again cost ~0.2 s of CPU per job (bench/freshness.py).
    job = queue(resources(job_app).redis, "default").enqueue(f"{__name__}.job_modules_loaded")
    finished = run_worker_process(job_settings, "default")
    assert finished.returncode == 0, finished.stderr
    job.refresh()
    assert job.return_value() == ["jobs.sync", "jobs.analysis", "jobs.reply"]
