"""A sync run has a page budget and a deadline; the next run continues from the committed
cursor, and the poller does not cool off from a run that stored progress (issue 28 §7)."""
from __future__ import annotations

import time

from rq.job import Job

import jobs.sync as sync
from chatcenter.models import Seller, SyncState
from chatcenter.poller.decisions import FAILED_COOL_OFF, Schedule
from chatcenter.poller.loop import Poller
from chatcenter.poller.membership import slot_key
from chatcenter.poller.recovery import CUT_SYNC, settle_cut_syncs
from chatcenter.queues import SYNC_JOB, enqueue
from chatcenter.leases import Lease
from tests.helpers import add_seller, resources, rows, run_jobs, seed_wb
from tests.test_poller import EVENTS, FakeClock, settle


def seller_row(app, seller_id):
    with resources(app).db.session() as session:
        return session.get(Seller, seller_id)


def test_a_run_stops_at_its_page_budget_and_the_next_continues_from_the_cursor(job_app, wb_stub, monkeypatch):
    seed_wb(wb_stub, chats=4, messages_per_chat=3)  # 12 events, pages of 3
    seller_id = add_seller(job_app)
    monkeypatch.setattr(sync, "RUN_PAGES", 2)

    first = sync.sync_seller_chats(seller_id)
    assert (first["pages"], first["more"]) == (2, True)
    stored_first = len(rows(job_app)[1])
    assert 0 < stored_first < 12
    cursor = seller_row(job_app, seller_id).events_cursor
    wb_stub.reset()

    second = sync.sync_seller_chats(seller_id)
    feed_reads = [r for r in wb_stub.requests if r.path == EVENTS]
    assert feed_reads[0].query == {"next": str(cursor - 1)}  # from the committed cursor
    while second["more"]:
        second = sync.sync_seller_chats(seller_id)
    assert len(rows(job_app)[1]) == 12  # everything, nothing twice
    assert seller_row(job_app, seller_id).sync_state == SyncState.OK


def test_a_run_against_a_slow_growing_feed_ends_at_its_deadline(job_app, wb_stub, monkeypatch):
    seed_wb(wb_stub, chats=10, messages_per_chat=3)  # 30 events, 10 pages
    seller_id = add_seller(job_app)
    monkeypatch.setattr(sync, "RUN_SECONDS", 1.0)
    wb_stub.delay_next(0.4, count=100, path=EVENTS)  # WB slow: each page takes 0.4 s

    started = time.monotonic()
    result = sync.sync_seller_chats(seller_id)
    took = time.monotonic() - started

    assert result["more"] and 1 <= result["pages"] < 10
    assert took < 1.0 + 2 * 0.4 + 1.0  # the deadline, the page under way, some slack for a busy machine
    assert seller_row(job_app, seller_id).sync_state == SyncState.OK


def test_sync_retries_never_wait_longer_than_a_minute(job_app, redis_client):
    enqueue(redis_client, SYNC_JOB, 1, (15, 60, 180))
    job = Job.fetch(SYNC_JOB.job_id(1), connection=redis_client)
    assert job.retry_intervals == [15, 60, 60]


def _fail_sync_after(job_app, wb_stub, seller_id, pages: int) -> None:
    """The seller's sync fails for good (no retries) after `pages` pages of the feed."""
    wb_stub.fail_after_pages(pages)
    run_jobs(job_app, queues=("sync",))
    job = Job.fetch(SYNC_JOB.job_id(seller_id), connection=resources(job_app).redis)
    assert job.is_failed
    wb_stub.fail_after_pages(None)
    wb_stub.reset()


def _poll_due(p, clock, seller_id) -> None:
    clock.now += 60
    p.resources.redis.delete(slot_key(seller_id))  # the slot lives in real time
    p.schedules[seller_id] = Schedule(due_at=clock.now)
    p.tick()
    settle(p)


def test_a_failed_sync_that_stored_progress_does_not_hold_the_seller_back(job_app, job_settings, wb_stub):
    seed_wb(wb_stub, chats=4, messages_per_chat=3)
    seller_id = add_seller(job_app)
    clock = FakeClock()
    p = Poller(resources(job_app), threads=2, clock=clock)
    try:
        p.tick()
        _poll_due(p, clock, seller_id)  # news: the poller asks for a sync
        assert resources(job_app).redis.exists(Job.key_for(SYNC_JOB.job_id(seller_id)))
        _fail_sync_after(job_app, wb_stub, seller_id, pages=2)  # two pages stored, then WB 500s

        _poll_due(p, clock, seller_id)
        assert [r.path for r in wb_stub.requests] == [EVENTS]  # polled at once: no cool-off
    finally:
        p.close()


def test_a_failed_sync_without_progress_holds_the_seller_back_for_at_most_a_minute(job_app, wb_stub):
    seed_wb(wb_stub, chats=4, messages_per_chat=3)
    seller_id = add_seller(job_app)
    clock = FakeClock()
    p = Poller(resources(job_app), threads=2, clock=clock)
    try:
        p.tick()
        _poll_due(p, clock, seller_id)
        _fail_sync_after(job_app, wb_stub, seller_id, pages=0)  # nothing stored

        _poll_due(p, clock, seller_id)
        assert wb_stub.requests == []  # cooling off
    finally:
        p.close()
    assert FAILED_COOL_OFF <= 60


def test_a_seller_left_running_by_a_cut_sync_is_settled_by_the_recovery(job_app, redis_client):
    cut, running = add_seller(job_app, "cut"), add_seller(job_app, "running")
    with resources(job_app).db.session() as session:
        for seller_id in (cut, running):
            session.get(Seller, seller_id).sync_state = SyncState.RUNNING
    lease = Lease(redis_client, SYNC_JOB.job_id(running))  # a live run of the second seller
    assert lease.acquire()
    try:
        said = settle_cut_syncs(resources(job_app))
    finally:
        lease.release()
    assert said == "1 sellers left running by a cut sync marked as failed"
    assert (seller_row(job_app, cut).sync_state, seller_row(job_app, cut).last_error) == (SyncState.ERROR, CUT_SYNC)
    assert seller_row(job_app, running).sync_state == SyncState.RUNNING
