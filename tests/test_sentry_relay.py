"""A work-horse's Sentry envelopes go to its worker through Redis (real Redis, the real SDK
transport, the local receiver)."""
from __future__ import annotations

import logging
import os

import pytest
from redis import Redis

from chatcenter.observability import sentry_relay
from chatcenter.observability.sentry_relay import RELAY_KEY, Relay, relay_from_horses, send_waiting

NOT_THIS_PROCESS = -1  # as the parent pid: this process then reports as a work-horse would


@pytest.fixture
def sdk(sentry_receiver):
    import sentry_sdk

    sentry_receiver.clear()
    sentry_sdk.init(dsn=sentry_receiver.dsn, default_integrations=False, environment="relay-test")
    yield sentry_sdk
    sentry_sdk.init(dsn=None)


def test_a_horses_report_waits_in_redis_until_the_worker_sends_it(sdk, sentry_receiver, redis_client):
    transport = sdk.get_client().transport
    relay_from_horses(transport, redis_client, parent_pid=NOT_THIS_PROCESS)

    sdk.capture_message("the store failed", level="error")
    sdk.flush(timeout=2)
    assert sentry_receiver.events == []
    assert redis_client.llen(RELAY_KEY) == 1

    assert send_waiting(transport, redis_client) == 1  # what the worker does
    sdk.flush(timeout=5)
    [event] = sentry_receiver.wait_for("event", 1)
    assert event["message"] == "the store failed"
    assert event["environment"] == "relay-test"
    assert redis_client.llen(RELAY_KEY) == 0


def test_the_worker_process_sends_its_own_reports_directly(sdk, sentry_receiver, redis_client):
    relay_from_horses(sdk.get_client().transport, redis_client, parent_pid=os.getpid())
    sdk.capture_message("from the worker itself", level="error")
    sdk.flush(timeout=5)
    assert [e["message"] for e in sentry_receiver.wait_for("event", 1)] == ["from the worker itself"]
    assert redis_client.llen(RELAY_KEY) == 0


def test_with_redis_down_a_horse_sends_directly(sdk, sentry_receiver, caplog):
    down = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)  # nothing listens on port 1
    relay_from_horses(sdk.get_client().transport, down, parent_pid=NOT_THIS_PROCESS)
    with caplog.at_level(logging.WARNING, logger="chatcenter.sentry"):
        sdk.capture_message("sent anyway", level="error")
    sdk.flush(timeout=5)
    assert [e["message"] for e in sentry_receiver.wait_for("event", 1)] == ["sent anyway"]
    assert "Sentry relay: Redis refused an envelope (ConnectionError); sending it directly" in caplog.messages


def test_the_relay_thread_sends_and_a_stopping_worker_sends_what_is_left(sdk, sentry_receiver, redis_url):
    horses, relay_side = Redis.from_url(redis_url), Redis.from_url(redis_url)
    relay = Relay(sdk.get_client().transport, horses, relay_side)
    try:
        # What a horse forked from this process pushes: the thread sends it.
        relay_from_horses(sdk.get_client().transport, horses, parent_pid=NOT_THIS_PROCESS)
        sdk.capture_message("first", level="error")
        sdk.flush(timeout=5)
        assert [e["message"] for e in sentry_receiver.wait_for("event", 1)] == ["first"]
    finally:
        relay.stop()
    # Pushed after the thread stopped (a horse's last report, the worker shutting down).
    sdk.capture_message("last", level="error")
    assert horses.llen(RELAY_KEY) == 1
    relay.stop()
    sdk.flush(timeout=5)
    assert [e["message"] for e in sentry_receiver.wait_for("event", 2)] == ["first", "last"]
    assert horses.llen(RELAY_KEY) == 0


def test_the_waiting_list_is_capped(sdk, redis_client, monkeypatch):
    monkeypatch.setattr(sentry_relay, "MAX_WAITING", 3)
    relay_from_horses(sdk.get_client().transport, redis_client, parent_pid=NOT_THIS_PROCESS)
    for n in range(5):
        sdk.capture_message(f"report {n}", level="error")
    assert redis_client.llen(RELAY_KEY) == 3


def test_a_real_worker_sends_its_horses_reports_over_one_connection(make_app, job_settings, sentry_receiver,
                                                                   redis_client):
    """Three jobs fail in three work-horses: the three reports reach Sentry, all over the
    worker's one connection (each horse connecting itself would make three), and nothing
    is left waiting in Redis when the worker stops."""
    from dataclasses import replace

    from chatcenter.actions import request_sync
    from tests.helpers import add_seller, overrides, resources, run_worker_process

    sentry_receiver.clear()
    settings = replace(job_settings, sentry_dsn=sentry_receiver.dsn, sentry_traces_sample_rate=0.0)
    app = make_app(**overrides(settings))
    for n in range(3):
        seller_id = add_seller(app, token=f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3cm9uZyJ9.bm90LWEtdG9rZW4t{n}")
        request_sync(resources(app), seller_id)

    result = run_worker_process(settings, "sync")

    assert result.returncode == 0, result.stderr
    events = sentry_receiver.wait_for("event", 3)
    assert [e["exception"]["values"][-1]["type"] for e in events] == ["WBAuthError"] * 3
    assert len(sentry_receiver.connections) == 1
    assert redis_client.llen(RELAY_KEY) == 0
