"""Several poller processes against one WB stub with many sellers: each seller polled by one
of them per interval (counted at the stub), a SIGKILLed poller's sellers taken over within
30 s, a poller joining takes its share; `flask pollers` and /api/health/ready list them."""
from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from dataclasses import replace

import pytest

from chatcenter.poller.membership import pollers
from tests.helpers import WB_TOKEN, add_seller, resources, start_process, wait_until
from tests.test_processes import stop

INTERVAL = 3  # seconds: short, so a few intervals make a quick test
SELLERS = 60
# Poll times are taken at the stub, after the request crossed the loopback and the stub's
# threads: two polls a whole interval apart may arrive a little less apart than that.
ARRIVAL_JITTER = 0.3


@pytest.fixture
def fleet(make_app, job_settings, wb_stub):
    """SELLERS sellers, each with a token of its own, and a way to start pollers."""
    settings = replace(job_settings, sync_interval_seconds=INTERVAL)
    app = make_app(**{f: getattr(settings, f) for f in ("database_url", "redis_url", "wb_api_base_url",
                                                          "sync_interval_seconds")})
    tokens = {}
    for n in range(SELLERS):
        token = f"{WB_TOKEN}-{n}"
        wb_stub.valid_tokens.add(token)
        tokens[token] = add_seller(app, f"shop {n}", token=token)
    wb_stub.reset()
    started = []

    def start():
        process = start_process(settings, "-m", "chatcenter.poller")
        started.append(process)
        return process

    yield app, tokens, start
    for process in started:
        if process.poll() is None:
            stop(process)


def polls_by_seller(wb_stub, tokens) -> dict[int, list[float]]:
    with wb_stub.lock:
        seen = list(zip(wb_stub.requests, wb_stub.arrivals))
    polls = defaultdict(list)
    for request, at in seen:
        polls[tokens[request.headers["Authorization"]]].append(at)
    return polls


def too_close(polls: dict[int, list[float]]) -> dict[int, float]:
    """Sellers polled twice within an interval, with the shortest gap."""
    found = {}
    for seller_id, times in polls.items():
        gaps = [b - a for a, b in zip(times, times[1:])]
        if gaps and min(gaps) < INTERVAL - ARRIVAL_JITTER:
            found[seller_id] = round(min(gaps), 3)
    return found


def live(app) -> dict[str, int]:
    return {p.id: p.sellers for p in pollers(resources(app).redis) if p.live}


def split_between(app, count: int) -> bool:
    """`count` live pollers, each holding some of the sellers, all of them held."""
    shares = live(app)
    return len(shares) == count and sum(shares.values()) == SELLERS and min(shares.values()) > 0


def test_two_pollers_split_the_sellers_never_poll_one_twice_in_an_interval_and_survive_a_sigkill(
        fleet, wb_stub):
    app, tokens, start = fleet
    first, second = start(), start()
    assert wait_until(lambda: split_between(app, 2), timeout=30)
    shares = live(app)
    assert all(held >= SELLERS // 4 for held in shares.values()), shares  # a split, not one doing all

    settled = time.time()
    time.sleep(4 * INTERVAL)
    polls = polls_by_seller(wb_stub, tokens)
    assert set(polls) == set(tokens.values())
    assert too_close(polls) == {}
    recent = {sid: [t for t in times if t >= settled] for sid, times in polls.items()}
    assert all(len(times) >= 3 for times in recent.values()), recent  # every interval, not less often

    first.send_signal(signal.SIGKILL)  # no goodbye: its key has to lapse
    first.communicate(timeout=30)
    killed = time.time()
    # Every seller polled again within 30 s of the kill (its own were the first poller's).
    assert wait_until(lambda: all(max(times) > killed + INTERVAL for times in polls_by_seller(wb_stub, tokens).values()),
                      timeout=30 + INTERVAL)
    taken_over = time.time() - killed
    assert wait_until(lambda: split_between(app, 1), timeout=10)
    assert len(live(app)) == 1 and set(live(app)) < set(shares)
    polls = polls_by_seller(wb_stub, tokens)
    assert too_close(polls) == {}
    # The one left polls them all on the cadence: nobody skipped for longer than 30 s + the interval.
    worst = max(b - a for times in polls.values() for a, b in zip(times, times[1:]))
    assert worst <= 30 + INTERVAL, worst

    # `flask pollers` and the readiness answer: one live poller, the killed one gone.
    with app.app_context():
        listed = app.test_cli_runner().invoke(args=["pollers", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["live"], r["sellers"]) for r in rows] == [(True, SELLERS), (False, 0)]
    assert rows[0]["last_poll_at"] is not None
    ready = app.test_client().get("/api/health/ready")
    assert ready.status_code == 200
    body = ready.get_json()
    assert [p["id"] for p in body["pollers"]["live"]] == [rows[0]["id"]]
    assert [p["id"] for p in body["pollers"]["gone"]] == [rows[1]["id"]]
    assert body["pollers"]["ok"] is True
    assert taken_over <= 30


def test_a_third_poller_takes_its_share_without_a_seller_polled_twice(fleet, wb_stub):
    app, tokens, start = fleet
    start(), start()
    assert wait_until(lambda: split_between(app, 2), timeout=30)
    time.sleep(2 * INTERVAL)
    joined = time.time()
    start()
    assert wait_until(lambda: split_between(app, 3), timeout=30)
    shares = live(app)
    assert all(held >= SELLERS // 6 for held in shares.values()), shares
    time.sleep(3 * INTERVAL)  # the handover: slots keep each seller to one poll per interval

    polls = polls_by_seller(wb_stub, tokens)
    assert too_close(polls) == {}
    worst = max(b - a for times in polls.values() for a, b in zip(times, times[1:]) if b > joined)
    assert worst <= 2 * INTERVAL + 1, worst  # no seller dropped in the handover


def test_a_poller_that_loses_redis_polls_nothing_until_it_is_back(make_app, job_settings, wb_stub, tmp_path):
    from tests.redis_server import RedisServer

    with RedisServer(tmp_path) as own_redis:
        settings = replace(job_settings, sync_interval_seconds=INTERVAL, redis_url=own_redis.url)
        app = make_app(database_url=settings.database_url, redis_url=own_redis.url)
        tokens = {}
        for n in range(5):
            token = f"{WB_TOKEN}-{n}"
            wb_stub.valid_tokens.add(token)
            tokens[token] = add_seller(app, f"shop {n}", token=token)
        wb_stub.reset()
        poller = start_process(settings, "-m", "chatcenter.poller")
        try:
            assert wait_until(lambda: len(polls_by_seller(wb_stub, tokens)) == 5, timeout=30)

            own_redis.stop()
            down = time.time()
            time.sleep(4 * INTERVAL)
            during = [t for times in polls_by_seller(wb_stub, tokens).values() for t in times if t > down + 1]
            own_redis.start()
            back = time.time()
            assert during == []  # nothing polled while Redis was away (no slot, no shared budget)
            assert wait_until(lambda: all(max(times) > back for times in polls_by_seller(wb_stub, tokens).values()),
                              timeout=30)
            assert poller.poll() is None  # it waited; it did not exit
        finally:
            output = stop(poller)
    assert "Redis is unavailable; polling nothing until it is back" in output
    assert "Redis is back; polling again" in output


def test_a_replaced_token_is_polled_within_the_interval(make_app, job_settings, wb_stub):
    from chatcenter.models import Seller, SyncState

    app = make_app(database_url=job_settings.database_url, redis_url=job_settings.redis_url,
                   wb_api_base_url=job_settings.wb_api_base_url)
    seller_id = add_seller(app, "shop", token="eyJ.expired.token")
    poller = start_process(job_settings, "-m", "chatcenter.poller")  # the default cadence, 10 s
    try:
        def state():
            with resources(app).db.session() as session:
                return session.get(Seller, seller_id).sync_state

        assert wait_until(lambda: state() == SyncState.AUTH_ERROR, timeout=30)
        new_token = f"{WB_TOKEN}-new"
        wb_stub.valid_tokens.add(new_token)
        with app.app_context():
            result = app.test_cli_runner().invoke(args=["sellers", "set-token", str(seller_id)], input=new_token)
        assert result.exit_code == 0, result.output
        replaced = time.time()

        def polled_with_the_new_token():
            with wb_stub.lock:
                return [at for r, at in zip(wb_stub.requests, wb_stub.arrivals)
                        if r.headers.get("Authorization") == new_token]

        assert wait_until(polled_with_the_new_token, timeout=30)
        assert polled_with_the_new_token()[0] - replaced <= job_settings.sync_interval_seconds
    finally:
        stop(poller)
