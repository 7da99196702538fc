"""A forked work-horse hands its Sentry envelopes to its worker, through Redis.

Left to sentry-sdk, a work-horse that reports something (a failed job, a sampled job's
transaction) starts the SDK's sending thread, opens a connection to Sentry, sends, and
waits for the answer before it exits: about 10 ms of CPU per report on a job that may
take 15, and up to the flush timeout (2 s) per job when Sentry is slow or down. Here the
work-horse pushes the envelope's bytes to a Redis list (one round trip on a connection
RQ already has open) and exits; a thread of the worker, which outlives its horses, takes
them off the list and sends them through the SDK's own transport (rate limits, retries,
client reports as before). Any worker of the deployment may send any horse's envelopes.

Nothing is lost on a fault: a push that fails (Redis down) is sent by the horse itself, as
before. The list is capped at MAX_WAITING envelopes: a deployment whose workers are all
gone keeps the newest.
"""
from __future__ import annotations

import logging
import os
import threading

from redis.exceptions import RedisError

from chatcenter.config import REDIS_PREFIX

log = logging.getLogger("chatcenter.sentry")

RELAY_KEY = f"{REDIS_PREFIX}sentry:envelopes"
MAX_WAITING = 1000
WAIT_SECONDS = 1  # how long one BRPOP waits: the thread notices `stop` this often


def relay_from_horses(transport, redis, parent_pid: int | None = None) -> None:
    """Make `transport` push the envelopes of any process forked from this one to Redis;
    this process's own envelopes are sent as before."""
    parent_pid = os.getpid() if parent_pid is None else parent_pid
    send = transport.capture_envelope

    def capture_envelope(envelope) -> None:
        if os.getpid() == parent_pid:
            return send(envelope)
        try:
            with redis.pipeline(transaction=False) as pipe:
                pipe.lpush(RELAY_KEY, envelope.serialize())
                pipe.ltrim(RELAY_KEY, 0, MAX_WAITING - 1)
                pipe.execute()
        except RedisError as exc:
            log.warning("Sentry relay: Redis refused an envelope (%s); sending it directly", type(exc).__name__)
            send(envelope)

    transport.capture_envelope = capture_envelope
    transport.sentry_relay_send = send  # the unwrapped send, for send_relayed


def send_relayed(transport, redis, stop: threading.Event) -> None:
    """Send what work-horses pushed, until `stop` is set. A Redis outage pauses it."""
    while not stop.is_set():
        try:
            item = redis.brpop([RELAY_KEY], timeout=WAIT_SECONDS)
        except RedisError:
            stop.wait(WAIT_SECONDS)
            continue
        if item is not None:
            _send(transport, item[1])


def send_waiting(transport, redis) -> int:
    """Send every envelope on the list now (a worker stopping: its last horse's report may
    have been pushed a moment ago). Returns how many."""
    sent = 0
    try:
        while sent < MAX_WAITING and (raw := redis.rpop(RELAY_KEY)) is not None:
            _send(transport, raw)
            sent += 1
    except RedisError as exc:
        log.warning("Sentry relay: Redis unavailable (%s); the next worker sends what is left", type(exc).__name__)
    return sent


def _send(transport, raw: bytes) -> None:
    from sentry_sdk.envelope import Envelope

    send = getattr(transport, "sentry_relay_send", transport.capture_envelope)
    try:
        send(Envelope.deserialize(raw))
    except Exception as exc:  # noqa: BLE001 - one bad envelope must not stop the relay
        log.warning("Sentry relay: an envelope could not be sent (%s)", type(exc).__name__)


class Relay:
    """This process's horses' envelopes, relayed by a thread until stop()."""

    def __init__(self, transport, redis_for_horses, redis_for_relay):
        # The thread has a Redis client of its own: a horse forked while the thread holds
        # one of its connection locks must never inherit that lock.
        self.transport, self.redis = transport, redis_for_relay
        relay_from_horses(transport, redis_for_horses)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=send_relayed, args=(transport, redis_for_relay, self._stop),
                                        name="sentry-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then send what is still waiting (the SDK flushes it at exit)."""
        self._stop.set()
        self._thread.join(timeout=WAIT_SECONDS + 6)
        send_waiting(self.transport, self.redis)
