"""One poll: a single `GET events` from the seller's cursor, and nothing an empty answer
does not need.

The sync and the reply job talk to WB through WBClient (requests, one session per run). A
poll is the same request thousands of times a minute, and requests' own work per call
(~0.8 ms of CPU here) was most of an empty poll's cost; one session per seller also kept
a connection per seller open. So polls go through one urllib3 pool per poller (kept-alive
connections, at most one per poll thread) and read only what tells news from no news. The
rules are WBClient's: the seller's shared rate budget (never waited for), the token never
in a message, the whole answer by a deadline and within a size, WB's problem details
(title, detail, requestId) in the error an operator reads.
"""
from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlsplit

import urllib3

from chatcenter.clients.ratelimit import RedisRateLimiter
from chatcenter.clients.wb import EVENTS_PATH, RATE_LIMIT, RATE_PERIOD, retry_seconds
from chatcenter.config import REDIS_PREFIX
from chatcenter.metrics import Recorder
from chatcenter.poller.decisions import PollOutcome

CONNECT_TIMEOUT, READ_TIMEOUT = 3.05, 10.0
DEADLINE = 15.0  # seconds for the whole answer: a trickling server does not hold a poll thread
MAX_BODY = 4 * 2**20  # a page of events is far smaller
METRICS_EVERY = 1.0  # seconds between two writes of the polls' metrics
_DETAIL_MAX = 300
REFUSED = "WB refused the token; polls and syncs paused until `flask sellers set-token`"

Poll = tuple[str, float | None, str | None]  # outcome, seconds to wait, public error


class FeedProbe:
    def __init__(self, base_url: str, redis, threads: int):
        self.base_url = base_url.rstrip("/")
        self.redis = redis
        split = urlsplit(self.base_url)
        pool_class = urllib3.HTTPSConnectionPool if split.scheme == "https" else urllib3.HTTPConnectionPool
        self.pool = pool_class(split.hostname, port=split.port, maxsize=threads, block=False, retries=False,
                               timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT))
        self.path = (split.path or "") + EVENTS_PATH
        self.limiters: dict[int, RedisRateLimiter] = {}
        self.metrics = Recorder(redis)
        # Polls' metrics, gathered and written once a second: a Redis round trip per poll
        # doubled an empty poll's CPU (1.0 -> 2.1 ms).
        self._answers: list[tuple[int | str, float]] = []
        self._polled: dict[int, float] = {}
        self._gathered_since = time.monotonic()
        self._gather_lock = threading.Lock()

    def close(self) -> None:
        self._flush_metrics(force=True)
        self.pool.close()

    def _record(self, status: int | str, seconds: float, polled_seller: int | None = None) -> None:
        with self._gather_lock:
            self._answers.append((status, seconds))
            if polled_seller is not None:
                self._polled[polled_seller] = time.time()
        self._flush_metrics()

    def _flush_metrics(self, force: bool = False) -> None:
        with self._gather_lock:
            if not force and time.monotonic() - self._gathered_since < METRICS_EVERY:
                return
            answers, polled = self._answers, self._polled
            self._answers, self._polled, self._gathered_since = [], {}, time.monotonic()
        if answers or polled:
            self.metrics.wb_requests("events", answers, polled)

    def poll(self, seller_id: int, token: str, cursor: int | None) -> Poll:
        """Is there anything past `cursor`? One request, if the seller's WB budget has a slot."""
        limiter = self.limiters.get(seller_id)
        if limiter is None:
            limiter = self.limiters[seller_id] = RedisRateLimiter(
                self.redis, f"{REDIS_PREFIX}wb-rate:{seller_id}", limit=RATE_LIMIT, period=RATE_PERIOD)
        wait = limiter.try_acquire()
        if wait > 0:  # syncs and replies come first: move aside, never wait
            return PollOutcome.RATE_LIMITED, wait, None
        what = f"GET {EVENTS_PATH}"
        url = self.path + (f"?next={cursor}" if cursor else "")  # WB answers next=0 with a 400
        started = time.monotonic()
        try:
            status, headers, body = self._get(url, token)
        except urllib3.exceptions.TimeoutError:
            return self._unanswered(started, f"WB API {what}: timeout")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return self._unanswered(started, f"WB API {what}: connection failed ({type(exc).__name__})")
        except _TooSlow:
            return self._unanswered(started, f"WB API {what}: no complete answer within {DEADLINE:.0f} s")
        answered = _read_page(body, what) if status == 200 else None
        # One pipelined write: the request's metrics and, when WB answered a page, the poll time.
        self._record(status, time.monotonic() - started,
                     polled_seller=seller_id if answered and answered[0] != PollOutcome.FAILED else None)
        if answered is not None:
            return answered
        if status in (401, 403):
            return PollOutcome.REFUSED, None, REFUSED
        problem = _problem(body)
        if status == 429:
            retry = retry_seconds(headers)
            limiter.block_for(retry)  # the seller's syncs and replies back off too
            return PollOutcome.RATE_LIMITED, retry, None
        reason = ": ".join(str(problem[k]) for k in ("title", "detail") if problem.get(k))
        reason = reason.replace(token, "[token]")[:_DETAIL_MAX]
        request_id = problem.get("requestId") if isinstance(problem.get("requestId"), str) else None
        suffix = (f": {reason}" if reason else "") + (f" (requestId {request_id})" if request_id else "")
        if status >= 500 or status == 408:
            return _failed(f"WB API unavailable: {what} answered {status}{suffix}")
        return _failed(f"WB API {what} answered {status}{suffix}")

    def _unanswered(self, started: float, message: str) -> Poll:
        self._record("error", time.monotonic() - started)
        return _failed(message)

    def _get(self, url: str, token: str) -> tuple[int, dict, bytes]:
        deadline = time.monotonic() + DEADLINE
        resp = self.pool.urlopen("GET", url, headers={"Authorization": token}, redirect=False,
                                 preload_content=False, release_conn=False)
        try:
            body = bytearray()
            while chunk := resp.read1(64 * 1024):
                body += chunk
                if time.monotonic() > deadline or len(body) > MAX_BODY:
                    raise _TooSlow()
            return resp.status, resp.headers, bytes(body)
        except BaseException:
            resp.close()  # not back to the pool half read: the connection is dropped
            raise
        finally:
            resp.release_conn()


class _TooSlow(Exception):
    pass


def _failed(message: str) -> Poll:
    return PollOutcome.FAILED, None, message


def _problem(body: bytes) -> dict:
    try:
        problem = json.loads(body)
    except ValueError:
        return {}
    return problem if isinstance(problem, dict) else {}


def _read_page(body: bytes, what: str) -> Poll:
    """News, nothing new, or a malformed answer (as WBClient.get_events checks it)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return _failed(f"WB API {what}: malformed JSON in a 200 answer")
    if isinstance(answer, dict) and answer.get("errors"):
        return _failed(f"WB API {what}: answer reports errors")
    result = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(result, dict):
        return _failed(f"WB API {what}: 'result' is not an object")
    total, events = result.get("totalEvents"), result.get("events")
    if not isinstance(total, int) or isinstance(total, bool) or not isinstance(result.get("next"), int):
        return _failed(f"WB API {what}: 'next' or 'totalEvents' is missing or not an integer")
    if events is not None and not isinstance(events, list):
        return _failed(f"WB API {what}: 'events' is not a list")
    return (PollOutcome.NEWS if total and events else PollOutcome.NOTHING_NEW), None, None
