"""One poll against the WB stub: the outcomes WB's answers mean, its rate budget shared with
the seller's other WB calls, and no token in what an operator reads."""
from __future__ import annotations

import time

import pytest

from chatcenter.clients.ratelimit import RedisRateLimiter
from chatcenter.poller import feed
from chatcenter.poller.decisions import PollOutcome
from chatcenter.poller.feed import FeedProbe
from tests.helpers import WB_TOKEN, seed_wb
from tests.stubs.wb_stub import problem

EVENTS = "/api/v1/seller/events"


@pytest.fixture
def probe(wb_stub, redis_client):
    made = FeedProbe(wb_stub.url, redis_client, threads=2)
    yield made
    made.close()


def test_an_empty_feed_is_nothing_new_and_events_past_the_cursor_are_news(probe, wb_stub):
    assert probe.poll(1, WB_TOKEN, None) == (PollOutcome.NOTHING_NEW, None, None)
    seed_wb(wb_stub, chats=1, messages_per_chat=1)
    assert probe.poll(1, WB_TOKEN, None) == (PollOutcome.NEWS, None, None)
    later = int(time.time() * 1000) + 60_000
    assert probe.poll(1, WB_TOKEN, later)[0] == PollOutcome.NOTHING_NEW
    assert [r.query for r in wb_stub.requests] == [{}, {}, {"next": str(later)}]  # from the cursor
    assert {r.headers["Authorization"] for r in wb_stub.requests} == {WB_TOKEN}  # the raw token


def test_polls_of_many_sellers_share_a_few_kept_alive_connections(probe, wb_stub):
    tokens = [f"{WB_TOKEN}-{n}" for n in range(20)]
    wb_stub.valid_tokens.update(tokens)
    for n, token in enumerate(tokens):
        assert probe.poll(n + 1, token, None)[0] == PollOutcome.NOTHING_NEW
    assert probe.pool.num_connections == 1  # one after the other: one connection, not one per seller


def test_a_refused_token_a_5xx_and_a_malformed_answer(probe, wb_stub):
    assert probe.poll(1, "eyJ.unknown.token", None) == (PollOutcome.REFUSED, None, feed.REFUSED)
    wb_stub.fail_next(503, body={**problem(503, f"gateway: {WB_TOKEN} timed out"), "requestId": "rq-7"})
    outcome, _, error = probe.poll(1, WB_TOKEN, None)
    assert outcome == PollOutcome.FAILED
    assert error == "WB API unavailable: GET /api/v1/seller/events answered 503: service unavailable: " \
                    "gateway: [token] timed out (requestId rq-7)"
    wb_stub.malformed_next()
    assert probe.poll(1, WB_TOKEN, None)[:2] == (PollOutcome.FAILED, None)


def test_a_429_waits_as_long_as_wb_asks_and_holds_back_the_sellers_other_calls(probe, wb_stub, redis_client):
    wb_stub.fail_next(429, headers={"X-Ratelimit-Retry": "7"})
    assert probe.poll(5, WB_TOKEN, None) == (PollOutcome.RATE_LIMITED, 7.0, None)
    limiter = RedisRateLimiter(redis_client, "chatcenter:wb-rate:5")
    assert 6.0 < limiter.wait_seconds() <= 7.0  # a sync or reply of seller 5 waits too


def test_a_used_up_budget_moves_the_poll_aside_without_a_request(probe, wb_stub, redis_client):
    limiter = RedisRateLimiter(redis_client, "chatcenter:wb-rate:6")
    for _ in range(10):
        assert limiter.try_acquire() == 0.0
    outcome, wait, _ = probe.poll(6, WB_TOKEN, None)
    assert outcome == PollOutcome.RATE_LIMITED and 0 < wait <= 10
    assert wb_stub.requests == []


def test_a_trickling_answer_ends_the_poll_at_its_deadline(probe, wb_stub, monkeypatch):
    monkeypatch.setattr(feed, "DEADLINE", 1.0)
    wb_stub.trickle_next(5)  # bytes per second
    started = time.monotonic()
    outcome, _, error = probe.poll(1, WB_TOKEN, None)
    assert outcome == PollOutcome.FAILED and "no complete answer within" in error
    assert time.monotonic() - started < 3.0
    assert probe.poll(1, WB_TOKEN, None)[0] == PollOutcome.NOTHING_NEW  # the pool recovers
