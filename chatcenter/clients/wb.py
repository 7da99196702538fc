"""Wildberries buyer-chat API client (seller side).

Error messages are written for operators and end up in Sentry: they carry the
status, WB's title/detail and requestId, never the token, buyer names or texts.
"""
from __future__ import annotations

import time

import requests
import urllib3

from chatcenter.clients.ratelimit import RateLimitWaitTooLong, RedisRateLimiter
from chatcenter.config import REDIS_PREFIX
from chatcenter.metrics import Recorder
from chatcenter.wb_events import MESSAGE_MAX, REPLY_SIGN_MAX

CHATS_PATH = "/api/v1/seller/chats"
EVENTS_PATH = "/api/v1/seller/events"
MESSAGE_PATH = "/api/v1/seller/message"

# WB's rule: 10 requests per 10 s per seller, whichever process or machine sends them.
RATE_LIMIT, RATE_PERIOD = 10, 10.0

# A 429 without usable headers still needs a pause; the cap on attempts guards
# against a server that keeps answering "retry in 0 s".
_DEFAULT_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 600.0
# Every call ends within this many seconds, however slowly WB sends: well under the time a
# run's lease survives without its heartbeat being useful, and under a job's timeout.
REQUEST_DEADLINE = 30.0
_READ_CHUNK = 64 * 1024
MAX_BODY_BYTES = 64 * 2**20  # a chat list of 100,000 chats is well under this
_MAX_429_RETRIES = 5
_DETAIL_MAX = 300


def endpoint_of(path: str) -> str:
    """The metrics' endpoint label: events, chats, message or download."""
    return {EVENTS_PATH: "events", CHATS_PATH: "chats", MESSAGE_PATH: "message"}.get(
        path, "download" if "/download/" in path else "other")


def token_problem(token: str) -> str | None:
    """Why `token` cannot be a WB token, or None. (requests would echo a bad header value
    in its exception, so such a token never gets near a request.)"""
    if not token:
        return "the WB token is empty"
    if any(ord(c) < 33 or ord(c) == 127 for c in token):
        return "the WB token contains spaces or control characters"
    return None


class WBError(Exception):
    """Any failure talking to WB. `transient` tells a job whether to retry; `unsent` that
    the request certainly never reached WB (no connection, DNS, TLS handshake, our own rate
    limit), which matters for a request that is not idempotent (sending a message)."""

    transient = False

    def __init__(self, message: str, *, status: int | None = None, request_id: str | None = None,
                 unsent: bool = False, refusals: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.request_id = request_id
        self.unsent = unsent
        # WB's own list of what it refused (the `errors` of a 4xx answer), already scrubbed.
        self.refusals = refusals or []


class WBAuthError(WBError):
    """401/403: the token is expired, wrong or of the wrong category."""


class WBRateLimited(WBError):
    """Still rate limited once the wait budget was spent."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class WBUnavailable(WBError):
    """5xx, connection failure or timeout."""

    transient = True


class WBBadResponse(WBError):
    """A malformed or unexpected answer, or a 4xx that retrying will not fix."""


class WBClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        limiter: RedisRateLimiter | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 20.0,
        max_rate_wait: float = 30.0,
        deadline: float = REQUEST_DEADLINE,
        metrics: Recorder | None = None,
    ):
        self._token = (token or "").strip()
        problem = token_problem(self._token)
        if problem:
            raise ValueError(problem)
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.timeout = (connect_timeout, read_timeout)
        self.max_rate_wait = max_rate_wait
        self.deadline = deadline
        self.metrics = metrics or Recorder(None)
        self.session = requests.Session()

    @classmethod
    def for_seller(cls, base_url: str, token: str, redis, seller_id: int, **options) -> "WBClient":
        """A client that keeps to WB's per-seller limit together with every other process."""
        limiter = RedisRateLimiter(redis, f"{REDIS_PREFIX}wb-rate:{seller_id}", limit=RATE_LIMIT, period=RATE_PERIOD)
        options.setdefault("metrics", Recorder(redis))
        return cls(base_url, token, limiter=limiter, **options)

    def __repr__(self) -> str:
        return f"WBClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "WBClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- public API -------------------------------------------------------

    def list_chats(self) -> list[dict]:
        body = self._request("GET", CHATS_PATH)
        chats = body.get("result")
        if not isinstance(chats, list):
            raise WBBadResponse(f"WB {CHATS_PATH}: 'result' is not a list")
        for i, chat in enumerate(chats):
            if not isinstance(chat, dict) or not _nonempty_str(chat.get("chatID")):
                raise WBBadResponse(f"WB {CHATS_PATH}: chat #{i} has no chatID")
        return chats

    def get_events(self, next_ms: int | None = None) -> dict:
        if next_ms is not None and (isinstance(next_ms, bool) or not isinstance(next_ms, int) or next_ms < 0):
            raise ValueError("next_ms must be a non-negative int or None")
        # WB answers next=0 with a 400; 0 can only mean "from the start", which is no cursor.
        params = {"next": next_ms} if next_ms else None
        body = self._request("GET", EVENTS_PATH, params=params)
        result = body.get("result")
        if not isinstance(result, dict):
            raise WBBadResponse(f"WB {EVENTS_PATH}: 'result' is not an object")
        if not _is_int(result.get("next")) or not _is_int(result.get("totalEvents")):
            raise WBBadResponse(f"WB {EVENTS_PATH}: 'next' or 'totalEvents' is missing or not an integer")
        events = result.get("events")
        if events is None and result["totalEvents"] == 0:
            events = result["events"] = []
        if not isinstance(events, list):
            raise WBBadResponse(f"WB {EVENTS_PATH}: 'events' is not a list")
        # Each event is checked by chatcenter.wb_events, which sets a broken one aside:
        # refusing the whole page for one event would stall the seller for good.
        # Absent on some answers; callers may rely on the keys existing.
        result.setdefault("newestEventTime", None)
        result.setdefault("oldestEventTime", None)
        return result

    def send_message(self, reply_sign: str, message: str) -> dict:
        """Send a text reply. Not idempotent: after WBUnavailable it may have arrived."""
        _check_field("replySign", reply_sign, REPLY_SIGN_MAX)
        _check_field("message", message, MESSAGE_MAX)
        # (None, value) parts force multipart/form-data without a file, as WB expects.
        files = {"replySign": (None, reply_sign), "message": (None, message)}
        body = self._request("POST", MESSAGE_PATH, files=files)
        result = body.get("result")
        return result if isinstance(result, dict) else {}

    # ---- transport --------------------------------------------------------

    def _request(self, method: str, path: str, *, params=None, files=None) -> dict:
        what = f"{method} {path}"
        deadline = time.monotonic() + self.max_rate_wait
        for _attempt in range(_MAX_429_RETRIES + 1):
            if self.limiter is not None:
                try:
                    self.limiter.acquire(max(0.0, deadline - time.monotonic()))
                except RateLimitWaitTooLong as exc:
                    raise WBRateLimited(
                        f"WB API {what}: local rate limit, next slot in {exc.wait_seconds:.1f} s "
                        f"(over the {self.max_rate_wait:.0f} s wait budget)",
                        retry_after=exc.wait_seconds, unsent=True,
                    ) from None
            resp = self._send(method, path, params, files)
            if resp.status_code != 429:
                return self._decode(resp, what)
            retry = retry_seconds(resp.headers)
            if self.limiter is not None:
                self.limiter.block_for(retry)  # make the other processes back off too
            if retry > deadline - time.monotonic():
                raise WBRateLimited(
                    f"WB API rate limited {what} (429), retry in {retry:.1f} s "
                    f"(over the {self.max_rate_wait:.0f} s wait budget){_rid_suffix(resp)}",
                    status=429,
                    request_id=_problem(resp).get("requestId"),
                    retry_after=retry,
                )
            time.sleep(retry)
        raise WBRateLimited(
            f"WB API rate limited {what} (429) {_MAX_429_RETRIES + 1} times in a row",
            status=429,
            retry_after=retry,
        )

    def _send(self, method, path, params, files) -> requests.Response:
        started = time.monotonic()
        deadline = started + self.deadline
        status: int | str = "error"
        try:
            resp = self.session.request(
                method,
                self.base_url + path,
                params=params,
                files=files,
                headers={"Authorization": self._token},  # the raw token, no "Bearer"
                timeout=(self.timeout[0], min(self.timeout[1], self.deadline)),
                # A redirect could carry the token to another host; WB has no reason to redirect.
                allow_redirects=False,
                stream=True,  # the body is read here, against the overall deadline
            )
            self._read_body(resp, deadline, f"{method} {path}")
            status = resp.status_code  # "error" when the answer never arrived whole
            return resp
        except requests.Timeout as exc:
            unsent = isinstance(exc, requests.ConnectTimeout)
            msg = f"WB API {method} {path}: {'connect' if unsent else 'read'} timeout"
        except requests.RequestException as exc:
            unsent = _never_connected(exc)
            what = "could not connect" if unsent else "connection failed"
            msg = f"WB API {method} {path}: {what} ({type(exc).__name__})"
        finally:
            self.metrics.wb_request(endpoint_of(path), status, time.monotonic() - started)
        raise WBUnavailable(msg, unsent=unsent) from None

    def _read_body(self, resp: requests.Response, deadline: float, what: str) -> None:
        """Read the whole body by the deadline: a read timeout alone lets a server that
        trickles a byte a second hold the call (and the seller's sync) for hours."""
        body = bytearray()
        try:
            while True:
                if time.monotonic() > deadline:
                    raise WBUnavailable(f"WB API {what}: no complete answer within {self.deadline:.0f} s")
                if len(body) > MAX_BODY_BYTES:
                    raise WBBadResponse(f"WB API {what}: answer larger than {MAX_BODY_BYTES // 2**20} MB")
                # read1: returns what one read brings, so the deadline is checked between reads.
                chunk = resp.raw.read1(_READ_CHUNK, decode_content=True)
                if not chunk:
                    break
                body += chunk
        except WBError:
            resp.close()
            raise
        except (OSError, urllib3.exceptions.HTTPError) as exc:
            resp.close()
            if isinstance(exc, (TimeoutError, urllib3.exceptions.ReadTimeoutError)):
                raise requests.ReadTimeout() from None
            raise requests.ConnectionError() from None
        resp._content = bytes(body)
        resp._content_consumed = True
        resp.raw.release_conn()

    def _decode(self, resp: requests.Response, what: str) -> dict:
        status = resp.status_code
        if 200 <= status < 300:
            try:
                body = resp.json()
            except ValueError:
                raise WBBadResponse(
                    f"WB API {what}: malformed JSON in a {status} answer", status=status
                ) from None
            if not isinstance(body, dict):
                raise WBBadResponse(f"WB API {what}: answer is not a JSON object", status=status)
            if body.get("errors"):
                raise WBBadResponse(
                    f"WB API {what}: answer reports errors: {self._scrub(str(body['errors']))}",
                    status=status,
                )
            return body

        problem = _problem(resp)
        refusals = [self._scrub(str(e)) for e in problem.get("errors") or [] if e] \
            if isinstance(problem.get("errors"), list) else []
        request_id = problem.get("requestId")
        if not isinstance(request_id, str):
            request_id = resp.headers.get("X-Request-Id")
        reason = self._scrub(
            ": ".join(str(problem[k]) for k in ("title", "detail") if problem.get(k))
            or "; ".join(refusals) or resp.reason or ""
        )
        suffix = f": {reason}" if reason else ""
        if request_id:
            suffix += f" (requestId {request_id})"
        kw = {"status": status, "request_id": request_id, "refusals": refusals}
        if status in (401, 403):
            raise WBAuthError(f"WB API rejected the token ({status}){suffix}", **kw)
        if status >= 500 or status == 408:
            raise WBUnavailable(f"WB API unavailable: {what} answered {status}{suffix}", **kw)
        raise WBBadResponse(f"WB API {what} answered {status}{suffix}", **kw)

    def _scrub(self, text: str) -> str:
        # WB details are short server texts, but never let one echo the token.
        text = text.replace(self._token, "[token]")
        return text if len(text) <= _DETAIL_MAX else text[:_DETAIL_MAX] + "..."


def _never_connected(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached WB: the TCP connection or the TLS
    handshake failed (refused, unreachable, DNS). A connection dropped later may have
    carried the whole request."""
    if isinstance(exc, requests.exceptions.SSLError):  # the handshake comes before the request
        return True
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None)  # urllib3's MaxRetryError names what failed
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _problem(resp: requests.Response) -> dict:
    """The application/problem+json body of an error answer, or {}."""
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _rid_suffix(resp: requests.Response) -> str:
    rid = _problem(resp).get("requestId")
    return f" (requestId {rid})" if isinstance(rid, str) and rid else ""


def retry_seconds(headers) -> float:
    """How long a 429 asks us to wait. A value outside 0-600 s (1e9, 1e300, inf, nan) or
    garbage is not believed: it must neither block a seller for years nor overflow the
    limiter, so the default wait applies."""
    for header in ("X-Ratelimit-Retry", "Retry-After", "X-Ratelimit-Reset"):
        try:
            value = float(headers[header])
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= value <= MAX_RETRY_SECONDS:  # False for nan too
            return value
    return _DEFAULT_RETRY_SECONDS


def _check_field(name: str, value: str, limit: int) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"{name} is too long: {len(value)} characters, WB allows {limit}")


def _nonempty_str(value) -> bool:
    return isinstance(value, str) and bool(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
