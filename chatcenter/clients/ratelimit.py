"""Sliding-window rate limiter kept in Redis, shared by every process and machine.

WB allows 10 requests per 10 s per seller. Web processes and workers on several
machines call WB for the same seller, so the window must live in Redis, and the
check-and-take must be one atomic step (a Lua script) or two processes could both
see "9 used" and both send.
"""
from __future__ import annotations

import math
import time
import uuid

# KEYS[1] = sorted set of granted slots (score = grant time in ms)
# KEYS[2] = "blocked" flag set after a 429
# ARGV    = limit, period_ms, unique member, take ("1": take a free slot; "0": only look)
# Returns 0 when a slot is free (and was taken if asked), otherwise the milliseconds to
# wait. The clock is Redis's own (TIME), so machines with skewed clocks still agree.
_SLOT_LUA = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000

local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then
  return blocked
end

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  if ARGV[4] == '1' then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], math.ceil(period))
  end
  return 0
end

-- Free once all but limit-1 of the live grants have aged out of the window.
local nth = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
local wait = math.ceil(tonumber(nth[2]) + period - now)
if wait < 1 then wait = 1 end
return wait
"""

# Never shortens a longer block already set by another process.
_BLOCK_LUA = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('SET', KEYS[1], '1', 'PX', ms)
end
return 0
"""


class RateLimitWaitTooLong(Exception):
    """The next free slot is further away than the caller is willing to wait."""

    def __init__(self, wait_seconds: float):
        super().__init__(f"rate limit: next slot in {wait_seconds:.2f} s, longer than allowed wait")
        self.wait_seconds = wait_seconds


class RedisRateLimiter:
    """At most `limit` acquisitions per `period` seconds for `key`, across processes.

    Redis keys used: `key` (sorted set) and `key + ":blocked"`; both expire on their own.
    """

    def __init__(self, redis_client, key: str, limit: int = 10, period: float = 10.0):
        if not key:
            raise ValueError("rate limiter key must not be empty")
        if limit < 1:
            raise ValueError("rate limiter limit must be at least 1")
        if period <= 0:
            raise ValueError("rate limiter period must be positive")
        self.key = key
        self.block_key = f"{key}:blocked"
        self.limit = int(limit)
        self.period = float(period)
        self._slot = redis_client.register_script(_SLOT_LUA)
        self._block = redis_client.register_script(_BLOCK_LUA)

    def __repr__(self) -> str:
        return f"RedisRateLimiter(key={self.key!r}, limit={self.limit}, period={self.period})"

    def _wait_ms(self, take: bool) -> int:
        return int(self._slot(keys=[self.key, self.block_key],
                              args=[self.limit, self.period * 1000.0, uuid.uuid4().hex, "1" if take else "0"]))

    def try_acquire(self) -> float:
        """Take a slot if one is free: returns 0.0, else the seconds to wait."""
        return self._wait_ms(take=True) / 1000.0

    def wait_seconds(self) -> float:
        """Seconds until a slot is free (0.0: one is free now), taking none."""
        return self._wait_ms(take=False) / 1000.0

    def acquire(self, max_wait: float) -> None:
        """Block until a slot is taken; raise RateLimitWaitTooLong past `max_wait` seconds."""
        deadline = time.monotonic() + max(0.0, max_wait)
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return
            # Judge against the whole budget, so repeated losses of the race for a
            # freed slot cannot add up to more than max_wait.
            if wait > deadline - time.monotonic():
                raise RateLimitWaitTooLong(wait)
            time.sleep(wait)

    def block_for(self, seconds: float) -> None:
        """Make every acquirer of this key wait `seconds` (e.g. after a 429)."""
        ms = int(math.ceil(seconds * 1000))
        if ms > 0:
            self._block(keys=[self.block_key], args=[ms])
