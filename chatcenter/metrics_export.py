"""The Prometheus families of one scrape: what every process recorded (Redis), the queues
(RQ's registries) and a few numbers read from the database at scrape time.

A prometheus-client Collector, so the text format is the library's; the same answer
comes from whichever gunicorn worker serves the scrape, on whichever machine.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from chatcenter.job_board import depths
from chatcenter.metrics import FAMILIES, LABEL_SEPARATOR, LAST_POLL_KEY, family_key
from chatcenter.models import Chat, Seller, SyncState

NAMESPACE = "chatcenter"
HELP = {
    "messages_ingested": "Messages stored from WB's event feed",
    "message_freshness_seconds": "Seconds from a buyer writing (WB addTimestamp) to the message stored",
    "wb_requests": "Requests to the WB seller API by endpoint and HTTP status (error: no answer)",
    "wb_request_seconds": "Seconds per WB request, body included",
    "deepseek_requests": "Requests to DeepSeek by HTTP status (error: no answer)",
    "deepseek_tokens": "DeepSeek tokens used, by kind",
    "jobs": "Jobs run by the workers, by queue and outcome",
    "replies": "Replies to buyers that reached a settled state",
}


class ChatcenterCollector(Collector):
    def __init__(self, resources):
        self.resources = resources

    def collect(self):
        redis = self.resources.redis
        pipe = redis.pipeline(transaction=False)
        for name in FAMILIES:
            pipe.hgetall(family_key(name))
        pipe.hgetall(LAST_POLL_KEY)
        *stored, last_polls = pipe.execute()
        for name, values in zip(FAMILIES, stored):
            yield _family(name, _decode(values))
        sellers, awaiting = self._database_numbers()
        yield from self._queue_gauges(redis)
        yield _poll_lag(sellers, _decode(last_polls))
        gauge = GaugeMetricFamily(f"{NAMESPACE}_chats_awaiting_reply",
                                  "Chats whose last message is the buyer's, by seller", labels=["seller_id"])
        for seller_id in sorted(set(sellers) | set(awaiting)):
            gauge.add_metric([str(seller_id)], awaiting.get(seller_id, 0))
        yield gauge

    def _database_numbers(self) -> tuple[dict[int, datetime], dict[int, int]]:
        """The polled sellers (id -> created) and the chats awaiting a reply per seller."""
        with self.resources.db.session() as session:
            sellers = dict(session.execute(
                select(Seller.id, Seller.created_at)
                .where(Seller.active.is_(True), Seller.sync_state != SyncState.AUTH_ERROR)).all())
            awaiting = dict(session.execute(
                select(Chat.seller_id, func.count()).where(Chat.awaiting_reply.is_(True))
                .group_by(Chat.seller_id)).all())
        return sellers, awaiting

    def _queue_gauges(self, redis):
        gauge = GaugeMetricFamily(f"{NAMESPACE}_queue_jobs", "Jobs per queue and state, read at scrape",
                                  labels=["queue", "state"])
        for name, states in depths(redis).items():
            for state, count in states.items():
                gauge.add_metric([name, state], count)
        yield gauge


def _decode(values: dict) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in values.items()}


def _family(name: str, values: dict[str, str]):
    kind, labels, buckets = FAMILIES[name]
    full, doc = f"{NAMESPACE}_{name}", HELP[name]
    if kind == "counter":
        family = CounterMetricFamily(full, doc, labels=list(labels))
        for key in sorted(values):
            family.add_metric(key.split(LABEL_SEPARATOR) if labels else [], float(values[key]))
        return family
    family = HistogramMetricFamily(full, doc, labels=list(labels))
    series: dict[tuple, dict[str, str]] = {}
    for key, value in values.items():
        *head, part = key.split(LABEL_SEPARATOR)
        series.setdefault(tuple(head), {})[part] = value
    for head in sorted(series):
        parts = series[head]
        running, cumulative = 0, []
        for index, bound in enumerate((*buckets, float("inf"))):
            running += int(parts.get(str(index), 0))
            cumulative.append(("+Inf" if bound == float("inf") else str(bound), running))
        family.add_metric(list(head), cumulative, float(parts.get("sum", 0)))
    return family


def _poll_lag(sellers: dict[int, datetime], last_polls: dict[str, str]):
    """Seconds since the least recently polled active seller was polled (one never polled
    counts from its creation): 0 with no seller to poll."""
    now = time.time()
    lag = 0.0
    for seller_id, created in sellers.items():
        polled = last_polls.get(str(seller_id))
        since = float(polled) if polled else _timestamp(created)
        lag = max(lag, now - since)
    gauge = GaugeMetricFamily(f"{NAMESPACE}_poll_lag_seconds",
                              "The longest time any active seller has gone unpolled")
    gauge.add_metric([], round(lag, 3))
    return gauge


def _timestamp(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
