"""Counters and histograms every process adds to, kept in Redis and read at scrape time.

Web, worker and poller processes run on any number of machines, so a number kept in one
process's memory (or in prometheus-client's multiprocess files, one machine's disk) would
show a scrape only part of what happened. Here each family is one Redis hash, written with
HINCRBY / HINCRBYFLOAT in a pipeline per event (or per batch of messages), and
`chatcenter.metrics_export` turns the hashes into Prometheus families at scrape time.

Recording never fails or slows the work it counts: a Redis error is logged once a minute
and the number is lost (a metric is not worth a failed sync or reply).
Labels are ids and fixed words, never names or texts.
"""
from __future__ import annotations

import bisect
import logging
import time
from collections import Counter
from typing import Iterable

from redis import Redis
from redis.exceptions import RedisError

from chatcenter.config import REDIS_PREFIX

log = logging.getLogger("chatcenter.metrics")

KEY_PREFIX = f"{REDIS_PREFIX}metrics:"
LABEL_SEPARATOR = "\x1f"  # between label values in a hash field; values are ids and words

# Seconds from a buyer writing (WB's addTimestamp) to the message stored here.
FRESHNESS_BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 900, 3600)
# Seconds of one WB request, the body read included.
WB_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

# name -> (kind, label names, buckets): what the exporter needs to describe each family.
FAMILIES: dict[str, tuple[str, tuple[str, ...], tuple[float, ...]]] = {
    "messages_ingested": ("counter", ("seller_id",), ()),
    "message_freshness_seconds": ("histogram", (), FRESHNESS_BUCKETS),
    "wb_requests": ("counter", ("endpoint", "status"), ()),
    "wb_request_seconds": ("histogram", ("endpoint",), WB_SECONDS_BUCKETS),
    "deepseek_requests": ("counter", ("status",), ()),
    "deepseek_tokens": ("counter", ("kind",), ()),
    "jobs": ("counter", ("queue", "outcome"), ()),
    "replies": ("counter", ("state",), ()),
}
# The last time the poller polled each seller (a hash seller id -> unix time).
LAST_POLL_KEY = f"{KEY_PREFIX}last_poll"
_COMPLAIN_EVERY = 60.0


def family_key(name: str) -> str:
    return KEY_PREFIX + name


def field(*values) -> str:
    return LABEL_SEPARATOR.join(str(v) for v in values)


class Recorder:
    """Adds to the Redis-kept families. One per process (or per client) is fine: it holds
    only the Redis connection."""

    def __init__(self, redis: Redis | None):
        self.redis = redis
        self._complained_at = float("-inf")

    def count(self, name: str, *labels, by: int = 1) -> None:
        self._write(lambda pipe: pipe.hincrby(family_key(name), field(*labels), by))

    def messages_ingested(self, seller_id: int, ages: Iterable[float]) -> None:
        """A committed batch of new messages: how many, and how old each was when stored."""
        ages = list(ages)
        if not ages:
            return

        def write(pipe):
            pipe.hincrby(family_key("messages_ingested"), field(seller_id), len(ages))
            _observe(pipe, "message_freshness_seconds", (), ages)

        self._write(write)

    def wb_request(self, endpoint: str, status: int | str, seconds: float) -> None:
        self.wb_requests(endpoint, [(status, seconds)], {})

    def wb_requests(self, endpoint: str, answers: list[tuple[int | str, float]], polled: dict[int, float]) -> None:
        """Many WB requests at once (the poller's, gathered for a second): one round trip."""
        def write(pipe):
            for status, n in Counter(status for status, _ in answers).items():
                pipe.hincrby(family_key("wb_requests"), field(endpoint, status), n)
            if answers:
                _observe(pipe, "wb_request_seconds", (endpoint,), [seconds for _, seconds in answers])
            if polled:
                pipe.hset(LAST_POLL_KEY, mapping={str(k): v for k, v in polled.items()})

        self._write(write)

    def deepseek_request(self, status: int | str, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        def write(pipe):
            pipe.hincrby(family_key("deepseek_requests"), field(status), 1)
            if prompt_tokens:
                pipe.hincrby(family_key("deepseek_tokens"), field("prompt"), prompt_tokens)
            if completion_tokens:
                pipe.hincrby(family_key("deepseek_tokens"), field("completion"), completion_tokens)

        self._write(write)

    def _write(self, commands) -> None:
        if self.redis is None:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            commands(pipe)
            pipe.execute()
        except RedisError as exc:
            now = time.monotonic()
            if now - self._complained_at >= _COMPLAIN_EVERY:
                self._complained_at = now
                log.warning("metrics not recorded: Redis unavailable (%s)", type(exc).__name__)


def _observe(pipe, name: str, labels: tuple, values: list[float]) -> None:
    """Each value adds one to its own bucket (`le` index; cumulated when exported), to the
    count and to the sum. Fields: labels + bucket index, labels + 'sum' / 'count'."""
    buckets = FAMILIES[name][2]
    key, head = family_key(name), list(labels)
    for index, n in Counter(bisect.bisect_left(buckets, v) for v in values).items():
        pipe.hincrby(key, field(*head, index), n)
    pipe.hincrby(key, field(*head, "count"), len(values))
    pipe.hincrbyfloat(key, field(*head, "sum"), float(sum(values)))
