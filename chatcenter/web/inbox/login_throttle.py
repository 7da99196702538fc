"""Sign-in throttling that concurrent guesses cannot race.

Every attempt takes a slot *before* its password is checked, in one Lua script over two
sliding windows: this account from this address, and this account from anywhere. When
either is full the attempt is refused unchecked, so however many guesses arrive at once,
no more than the limit are ever checked. A successful sign-in gives its slot back, so an
operator who signs in often is never locked out by their own successes.

Redis keys hold digests: neither the e-mail nor the address is stored.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from chatcenter.config import REDIS_PREFIX

WINDOW_SECONDS = 15 * 60
PER_ADDRESS = 5   # failed sign-ins of one account from one address per window
PER_ACCOUNT = 20  # of one account from all addresses together (a spread-out guesser)

# KEYS = the per-address and per-account windows (sorted sets of attempt ids by time)
# ARGV = their limits, the window in ms, this attempt's id, "1" to take a slot or "0" to look
# Returns {0, 0} when a slot is free in both (and was taken if asked), else {ms to wait,
# which window is full}.
_TAKE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[3])
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
end
for i = 1, 2 do
  local limit = tonumber(ARGV[i])
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local nth = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    local wait = math.ceil(tonumber(nth[2]) + window - now)
    if wait < 1 then wait = 1 end
    return {wait, i}
  end
end
if ARGV[5] == '1' then
  for i = 1, 2 do
    redis.call('ZADD', KEYS[i], now, ARGV[4])
    redis.call('PEXPIRE', KEYS[i], window)
  end
end
return {0, 0}
"""


@dataclass(frozen=True)
class Refused:
    wait_seconds: float
    per_address: bool  # the address's window is full (else the account's)


class LoginThrottle:
    def __init__(self, redis_client, email: str, address: str):
        account = hashlib.sha256(f"account\n{email}".encode()).hexdigest()[:32]
        pair = hashlib.sha256(f"{email}\n{address}".encode()).hexdigest()[:32]
        self._keys = [f"{REDIS_PREFIX}login-failures:{pair}", f"{REDIS_PREFIX}login-failures:account:{account}"]
        self._redis = redis_client
        self._attempt = uuid.uuid4().hex
        self._take = redis_client.register_script(_TAKE_LUA)

    def take(self) -> Refused | None:
        """Count this attempt; a Refused (checked no further) when a window is full."""
        return self._run(take=True)

    def give_back(self) -> None:
        """The attempt succeeded: it does not count as a failure."""
        pipe = self._redis.pipeline(transaction=True)
        for key in self._keys:
            pipe.zrem(key, self._attempt)
        pipe.execute()

    def refused_next(self) -> Refused | None:
        """Would the next attempt be refused? (To warn after the failure that filled a window.)"""
        return self._run(take=False)

    def _run(self, take: bool) -> Refused | None:
        wait_ms, full = self._take(keys=self._keys, args=[PER_ADDRESS, PER_ACCOUNT, WINDOW_SECONDS * 1000,
                                                          self._attempt, "1" if take else "0"])
        return Refused(int(wait_ms) / 1000, int(full) == 1) if int(wait_ms) > 0 else None
