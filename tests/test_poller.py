"""The poller: its decisions on a fake clock, and its passes against real Redis, a real
database and the WB stub (a pass is driven by hand; the poller process runs them in a loop).
Several pollers at once: tests/test_pollers.py."""
from __future__ import annotations

import signal
import time
from concurrent.futures import wait
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, select

from chatcenter.actions import request_sync
from chatcenter.clients.wb import WBClient
from chatcenter.job_rules import run_now
from chatcenter.models import Analysis, Chat, Seller, SyncState
from chatcenter.poller.decisions import (
    FAILED_COOL_OFF, MAX_BACKOFF, MIN_DEFER, PollOutcome, Schedule, after_poll, after_skip, backoff, first_schedule,
    has_news, held_back, is_due, should_poll, sync_due,
)
from chatcenter.queues import ANALYSIS_JOB, SYNC_JOB, enqueue, queue
from chatcenter.poller.loop import Poller, held_back_subjects
from chatcenter.poller.membership import slot_key
from jobs.sync import sync_seller_chats
from tests.helpers import WB_TOKEN, add_seller, resources, run_jobs, seed_wb, start_process, wait_until

INTERVAL = 10.0
EVENTS = "/api/v1/seller/events"


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


# ================================================================== decisions, fake clock

def test_sellers_are_spread_over_the_interval_and_each_is_due_within_one():
    offsets = sorted(first_schedule(sid, 0.0, INTERVAL).due_at for sid in range(1, 501))
    assert 0.0 <= offsets[0] and offsets[-1] < INTERVAL
    # Spread, not bunched: every second of the interval gets about a tenth of them.
    per_second = [sum(1 for o in offsets if s <= o < s + 1) for s in range(10)]
    assert min(per_second) >= 40


def test_a_seller_is_polled_every_interval_on_a_fixed_cadence():
    clock, tick = 0.0, 0.5
    schedule, polls = first_schedule(7, clock, INTERVAL), []
    while clock < 600:
        if should_poll(schedule, clock, sync_pending=False):
            polls.append(clock)
            schedule = after_poll(schedule, clock, INTERVAL, PollOutcome.NOTHING_NEW)
        clock += tick
    gaps = [b - a for a, b in zip(polls, polls[1:])]
    assert max(gaps) <= INTERVAL + tick
    assert len(polls) >= 600 / INTERVAL - 1  # no drift: the cadence does not slip by the tick


def test_a_poller_that_fell_behind_polls_once_now_not_once_per_missed_interval():
    late = after_poll(Schedule(due_at=100.0), 175.0, INTERVAL, PollOutcome.NEWS)
    assert late.due_at == 175.0
    assert after_poll(late, 175.0, INTERVAL, PollOutcome.NOTHING_NEW).due_at == 185.0


def test_a_seller_whose_sync_is_pending_is_not_polled_and_is_looked_at_again_an_interval_later():
    schedule = Schedule(due_at=50.0)
    assert is_due(schedule, 50.0)
    assert not should_poll(schedule, 50.0, sync_pending=True)
    assert after_skip(schedule, 50.0, INTERVAL) == Schedule(due_at=60.0)


def test_wb_errors_back_off_doubling_up_to_a_cap_and_a_good_poll_resets():
    schedule, waits = Schedule(due_at=0.0), []
    now = 0.0
    for _ in range(8):
        schedule = after_poll(schedule, now, INTERVAL, PollOutcome.FAILED)
        waits.append(schedule.due_at - now)
        now = schedule.due_at
    assert waits == [20.0, 40.0, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF]
    assert MAX_BACKOFF == 60.0  # a transient fault never holds a seller off longer than a minute
    assert schedule.failures == 8
    recovered = after_poll(schedule, now, INTERVAL, PollOutcome.NOTHING_NEW)
    assert recovered.failures == 0 and recovered.due_at == now + INTERVAL
    assert backoff(10_000, INTERVAL) == MAX_BACKOFF


def test_only_news_asks_for_a_sync():
    # A refused token does not: the poller pauses the seller itself (no failed job to wait out
    # once the token is replaced).
    assert sync_due(PollOutcome.NEWS)
    assert not any(sync_due(o) for o in (PollOutcome.NOTHING_NEW, PollOutcome.FAILED, PollOutcome.RATE_LIMITED,
                                         PollOutcome.REFUSED))


def test_a_used_up_budget_or_a_429_waits_as_long_as_asked_and_is_no_failure():
    schedule = Schedule(due_at=0.0, failures=2)
    assert after_poll(schedule, 5.0, INTERVAL, PollOutcome.RATE_LIMITED, wait=3.5) == Schedule(8.5, failures=2)
    assert after_poll(schedule, 5.0, INTERVAL, PollOutcome.RATE_LIMITED, wait=0.001).due_at == 5.0 + MIN_DEFER
    assert after_poll(schedule, 5.0, INTERVAL, PollOutcome.RATE_LIMITED, wait=None).due_at == 5.0 + MIN_DEFER
    assert after_poll(schedule, 5.0, INTERVAL, PollOutcome.RATE_LIMITED, wait=1e9).due_at == 5.0 + MAX_BACKOFF


def test_news_is_events_past_the_cursor():
    assert has_news({"totalEvents": 2, "events": [{}, {}]})
    assert not has_news({"totalEvents": 0, "events": []})
    assert not has_news({"totalEvents": 0, "events": None})


# ======================================================= passes against Redis, DB and the stub

@pytest.fixture
def poller(job_app):
    made = []

    def make(clock=None):
        p = Poller(resources(job_app), threads=4, clock=clock or FakeClock())
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def settle(poller) -> None:
    """Let the polls in flight finish and take in their outcomes (the clock stands still)."""
    wait(list(poller.in_flight.values()), timeout=30)
    poller.tick()
    assert not poller.in_flight


def make_due(poller, seller_id: int) -> None:
    poller.schedules[seller_id] = Schedule(due_at=poller.clock())
    free_slot(poller, seller_id)


def free_slot(poller, seller_id: int) -> None:
    """The poll slot lives in real time (Redis's): a fake clock moved on must free it by hand."""
    poller.resources.redis.delete(slot_key(seller_id))


def writes_to(app):
    """Every statement that is not a SELECT, sent to the app's database from now on."""
    seen = []

    def record(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(resources(app).db.engine, "before_cursor_execute", record)
    return seen


def test_an_empty_poll_is_one_wb_request_no_database_write_and_no_job(job_app, wb_stub, redis_client, poller):
    seller_id = add_seller(job_app)
    with resources(job_app).db.session() as session:
        session.get(Seller, seller_id).events_cursor = 1_700_000_000_000
    p = poller()
    p.tick()
    make_due(p, seller_id)
    wb_stub.reset()
    writes = writes_to(job_app)

    p.tick()
    settle(p)

    assert [(r.method, r.path, r.query) for r in wb_stub.requests] == [
        ("GET", EVENTS, {"next": "1700000000000"})]  # from the seller's cursor
    assert writes == []
    assert all(queue(redis_client, name).count == 0 for name in ("sync", "analysis", "default"))
    assert p.schedules[seller_id].due_at == p.clock() + INTERVAL


def test_news_enqueues_one_sync_and_the_seller_is_not_polled_while_it_is_pending(
        job_app, wb_stub, redis_client, poller):
    seed_wb(wb_stub, chats=1, messages_per_chat=1)
    seller_id = add_seller(job_app)
    clock = FakeClock()
    p = poller(clock)
    make_due(p, seller_id)
    p.tick()
    settle(p)
    assert [job.id for job in queue(redis_client, "sync").jobs] == [SYNC_JOB.job_id(seller_id)]

    wb_stub.reset()
    clock.now += INTERVAL
    free_slot(p, seller_id)
    p.tick()
    settle(p)
    assert wb_stub.requests == []  # its sync is queued: no poll
    assert len(queue(redis_client, "sync").jobs) == 1

    run_jobs(job_app, queues=("sync",))  # the sync stores the news and moves the cursor
    wb_stub.reset()
    clock.now += INTERVAL
    free_slot(p, seller_id)
    p.tick()
    settle(p)
    assert [r.path for r in wb_stub.requests] == [EVENTS]
    assert queue(redis_client, "sync").count == 0  # nothing new past the new cursor


def test_polls_share_the_sellers_wb_budget_with_syncs_and_replies(job_app, wb_stub, redis_client, poller):
    chat = wb_stub.add_chat()
    seller_id = add_seller(job_app)
    with resources(job_app).db.session() as session:
        session.get(Seller, seller_id).events_cursor = 1_700_000_000_000
    # 9 of the seller's 10 WB calls in this 10 s window: a sync's reads and two replies.
    with WBClient.for_seller(wb_stub.url, WB_TOKEN, redis_client, seller_id) as other:
        for _ in range(7):
            other.list_chats()
        other.send_message(chat["replySign"], "Здравствуйте!")
        other.send_message(chat["replySign"], "Уже отправили.")
    clock = FakeClock()
    p = poller(clock)
    make_due(p, seller_id)
    wb_stub.reset()

    p.tick()
    settle(p)
    assert len(wb_stub.requests) == 1  # the 10th slot

    clock.now += 1
    make_due(p, seller_id)
    p.tick()
    settle(p)
    assert len(wb_stub.requests) == 1  # budget used up: the poll moved aside, no request
    assert clock.now + MIN_DEFER <= p.schedules[seller_id].due_at <= clock.now + INTERVAL
    assert p.schedules[seller_id].failures == 0


def test_a_wb_error_backs_the_seller_off(job_app, wb_stub, redis_client, poller):
    seller_id = add_seller(job_app)
    clock = FakeClock()
    p = poller(clock)
    make_due(p, seller_id)
    wb_stub.fail_next(503)
    p.tick()
    settle(p)
    assert p.schedules[seller_id] == Schedule(due_at=clock.now + 2 * INTERVAL, failures=1)
    assert queue(redis_client, "sync").count == 0


def test_a_refused_token_pauses_the_seller_and_a_new_token_is_polled_at_once(
        job_app, wb_stub, redis_client, poller):
    seller_id = add_seller(job_app, token="eyJ.refused.token")
    clock = FakeClock()
    p = poller(clock)
    make_due(p, seller_id)
    p.tick()
    settle(p)
    with resources(job_app).db.session() as session:
        seller = session.get(Seller, seller_id)
        assert (seller.sync_state, seller.poll_error) == (SyncState.AUTH_ERROR, seller.last_error)
        assert "refused the token" in seller.poll_error and seller.poll_failing_since is not None
    assert queue(redis_client, "sync").count == 0  # no job that fails and holds the seller back

    wb_stub.reset()
    clock.now += INTERVAL
    p.tick()
    assert seller_id not in p.schedules and wb_stub.requests == []  # paused until set-token

    result = job_app.test_cli_runner().invoke(args=["sellers", "set-token", str(seller_id)], input=WB_TOKEN + "\n")
    assert result.exit_code == 0, result.output
    clock.now += 2.0  # the seller list is read again (SELLERS_EVERY); no cool-off, no offset
    free_slot(p, seller_id)  # (its last slot ended 12 s ago on the fake clock)
    p.tick()
    settle(p)
    assert [r.path for r in wb_stub.requests] == [EVENTS]
    with resources(job_app).db.session() as session:
        seller = session.get(Seller, seller_id)
        assert (seller.sync_state, seller.poll_error, seller.poll_failing_since) == (SyncState.IDLE, None, None)


def test_failing_polls_show_on_the_seller_from_the_second_and_the_first_good_poll_clears_them(
        job_app, wb_stub, poller):
    seller_id = add_seller(job_app)
    clock = FakeClock()
    p = poller(clock)

    def failing():
        with resources(job_app).db.session() as session:
            seller = session.get(Seller, seller_id)
            return seller.poll_error, seller.poll_failing_since

    wb_stub.fail_next(503, count=2)
    make_due(p, seller_id)
    p.tick()
    settle(p)
    assert failing() == (None, None)  # one lost request is no news
    first_failure_by = datetime.now(timezone.utc)

    clock.now = p.schedules[seller_id].due_at
    free_slot(p, seller_id)
    p.tick()
    settle(p)
    error, since = failing()
    assert "503" in error and since <= first_failure_by  # since the first failure

    clock.now = p.schedules[seller_id].due_at
    free_slot(p, seller_id)
    p.tick()
    settle(p)
    assert failing() == (None, None)


def test_a_job_holds_its_subject_back_while_pending_and_for_a_while_after_it_failed():
    assert held_back("queued", False, None, 0.0)
    assert held_back("scheduled", False, None, 0.0)  # waiting for its next retry
    assert held_back("started", True, None, 0.0)
    assert not held_back("started", False, None, 0.0)  # its worker died: enqueue clears it
    assert not held_back("finished", False, 100.0, 101.0)
    assert not held_back(None, False, None, 0.0)
    assert held_back("failed", False, 100.0, 100.0 + FAILED_COOL_OFF - 1)
    assert not held_back("failed", False, 100.0, 100.0 + FAILED_COOL_OFF)


def test_held_back_subjects_reads_the_jobs_in_redis(job_app, redis_client):
    delays = resources(job_app).settings.job_retry_delays
    for seller_id in (1, 2, 4):
        enqueue(redis_client, SYNC_JOB, seller_id, delays)
    sync = queue(redis_client, "sync")
    sync.fetch_job(SYNC_JOB.job_id(2)).set_status("started")  # a worker took it and died: no lease
    failed = sync.fetch_job(SYNC_JOB.job_id(4))
    failed.ended_at = datetime.now(timezone.utc)
    failed.save()
    failed.set_status("failed")
    assert held_back_subjects(redis_client, SYNC_JOB, [1, 2, 3, 4]) == {1, 4}
    assert held_back_subjects(redis_client, SYNC_JOB, []) == set()


def _stored_analyses(app, chat_id: int) -> list:
    with resources(app).db.session() as session:
        return [(a.id, a.last_message_id) for a in
                session.scalars(select(Analysis).where(Analysis.chat_id == chat_id).order_by(Analysis.id))]


def test_messages_arriving_while_the_analysis_runs_lead_to_exactly_one_more_analysis(
        job_app, wb_stub, deepseek_stub, redis_client, poller):
    [wb_chat] = seed_wb(wb_stub, chats=1, messages_per_chat=1)
    seller_id = add_seller(job_app)
    request_sync(resources(job_app), seller_id)
    run_jobs(job_app, queues=("sync",))  # stores the message, enqueues the chat's analysis
    with resources(job_app).db.session() as session:
        chat_id = session.scalar(select(Chat.id))
    sync_job = SYNC_JOB.job_id(seller_id)

    def burst_during_the_first_analysis(body):
        if len(deepseek_stub.requests) == 1:  # while DeepSeek thinks, three more arrive, each synced
            with job_app.app_context():
                for n in range(3):
                    wb_stub.add_event(wb_chat["chatID"], text=f"ещё вопрос {n}", sender="client")
                    run_now(redis_client, sync_job, sync_seller_chats, seller_id)
        return None

    deepseek_stub.responder = burst_during_the_first_analysis
    run_jobs(job_app, queues=("analysis",))
    assert len(deepseek_stub.requests) == 1
    assert queue(redis_client, "analysis").count == 0  # the syncs could not add one: it was running
    with resources(job_app).db.session() as session:
        assert session.get(Chat, chat_id).analysis_due

    p = poller()
    p.tick()
    p.tick()
    assert [job.id for job in queue(redis_client, "analysis").jobs] == [ANALYSIS_JOB.job_id(chat_id)]

    run_jobs(job_app, queues=("analysis",))
    assert len(deepseek_stub.requests) == 2  # not zero more, not one per message
    second_prompt = str(deepseek_stub.requests[1].body["messages"])
    assert all(f"ещё вопрос {n}" in second_prompt for n in range(3))
    with resources(job_app).db.session() as session:
        assert not session.get(Chat, chat_id).analysis_due
    p.tick()
    assert queue(redis_client, "analysis").count == 0
    assert len(_stored_analyses(job_app, chat_id)) == 2


def test_the_default_configuration_polls_each_seller_at_least_every_interval(job_app, job_settings, wb_stub):
    assert job_settings.sync_interval_seconds == INTERVAL  # the default
    tokens = [f"{WB_TOKEN}-{n}" for n in range(3)]
    wb_stub.valid_tokens.update(tokens)
    for n, token in enumerate(tokens):
        add_seller(job_app, f"shop {n}", token=token)
    wb_stub.reset()
    cron = start_process(job_settings, "-m", "chatcenter.poller")
    try:
        def polls(token):
            with wb_stub.lock:
                return [at for r, at in zip(wb_stub.requests, wb_stub.arrivals) if r.headers.get("Authorization") == token]

        assert wait_until(lambda: all(len(polls(t)) >= 3 for t in tokens), timeout=60), cron.pid
    finally:
        cron.send_signal(signal.SIGTERM)
        output, _ = cron.communicate(timeout=30)
    assert cron.returncode == 0, output
    for token in tokens:
        times = polls(token)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert max(gaps) <= INTERVAL + 5, (gaps, output)  # generous: a loaded machine is late
    # An empty poll is only ever the events request.
    assert {r.path for r in wb_stub.requests} == {EVENTS}


def test_a_run_longer_than_its_lease_ttl_is_still_seen_running(job_app, redis_client):
    # The poller (and enqueue) take a started job without a lease for a dead run and start
    # a second one: the heartbeat must keep the lease of a long run alive.
    from chatcenter.leases import Lease

    job_id = SYNC_JOB.job_id(1)
    lease = Lease(redis_client, job_id, ttl=1.5)
    assert lease.acquire()
    try:
        enqueue(redis_client, SYNC_JOB, 1, ())
        queue(redis_client, "sync").fetch_job(job_id).set_status("started")
        time.sleep(4 * 1.5)  # outlive the TTL several times
        assert lease.owned()
        assert held_back_subjects(redis_client, SYNC_JOB, [1]) == {1}
    finally:
        lease.release()
    assert held_back_subjects(redis_client, SYNC_JOB, [1]) == set()
