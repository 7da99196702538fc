"""Which poller polls which seller: live pollers in Redis, a rendezvous split, poll slots.

Any number of poller processes, on any hosts, share Redis. Three Redis facts do the work:

- **Membership by key expiry.** Each poller keeps a key `poller:<id>` alive with `SET PX`
  every BEAT seconds. A poller that dies (SIGKILL, host gone) stops renewing and Redis drops
  its key within MEMBER_TTL: it is gone, and the others see it at their next beat.
- **A split everyone computes alike.** Each seller goes to the live poller with the highest
  hash of (poller id, seller id) (rendezvous hashing): every poller that sees the same
  members makes the same split, and a poller coming or going moves only its own share.
- **One poll per seller per interval.** Before polling, a poller claims the seller's poll
  slot with `SET NX PX interval`: while two pollers disagree about the members (for a beat
  after one joins or dies), the slot still lets only one of them poll, and the loser learns
  from its PTTL when the seller is next due.

A poller that cannot renew its key (Redis away) holds no sellers: it stops polling until
Redis answers again, and the others take its sellers once its key has expired.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from chatcenter.config import REDIS_PREFIX

MEMBER_TTL = 10.0  # seconds a poller stays a member after its last beat: failover in ≤ TTL + BEAT
BEAT = 2.0         # seconds between beats: a member key survives four missed beats
GONE_KEPT = 3600.0  # seconds a dead poller is still listed as gone (health, `flask pollers`)

MEMBERS = f"{REDIS_PREFIX}pollers"  # hash: poller id -> what it said at its last beat (JSON)
RECOVERY_SLOT = f"{REDIS_PREFIX}poller-recovery"  # one poller runs the periodic recovery per interval


def member_key(poller_id: str) -> str:
    return f"{REDIS_PREFIX}poller:{poller_id}"


def slot_key(seller_id: int) -> str:
    return f"{REDIS_PREFIX}poll-slot:{seller_id}"


def new_poller_id() -> str:
    """Host, pid and a random tail: unique across hosts and restarts, and says where it runs."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _score(poller_id: str, seller_id: int) -> int:
    digest = hashlib.blake2b(f"{poller_id}/{seller_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def split(members, seller_ids) -> dict[str, set[int]]:
    """Rendezvous hashing: each seller to the member with the highest score for it."""
    members = sorted(members)
    shares: dict[str, set[int]] = {m: set() for m in members}
    if not members:
        return shares
    for seller_id in seller_ids:
        shares[max(members, key=lambda m: _score(m, seller_id))].add(seller_id)
    return shares


@dataclass
class Membership:
    """This poller's side of the membership: its beats, the live members, its share."""

    redis: Redis
    poller_id: str
    interval: float
    started_at: float = 0.0

    def __post_init__(self):
        self.started_at = self.started_at or time.time()
        self.members: frozenset[str] = frozenset()
        self.alive_until = 0.0  # monotonic: our key surely exists until then
        self.next_beat = 0.0

    # ---- beats --------------------------------------------------------------------

    def beat(self, now: float) -> None:
        """Renew our key and read the live members. Raises RedisError."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(member_key(self.poller_id), 1, px=int(MEMBER_TTL * 1000))
        pipe.hsetnx(MEMBERS, self.poller_id, json.dumps(self._info(0, None)))  # listed from the first beat
        pipe.hkeys(MEMBERS)
        known = [k.decode() for k in pipe.execute()[2]]
        self.alive_until = now + MEMBER_TTL - BEAT  # a margin: our key may have been set late
        self.next_beat = now + BEAT
        live = _live(self.redis, known)
        self.members = frozenset(live)
        self._prune(known, live)

    def publish(self, held: int, last_poll_at: float | None) -> None:
        """Say what we hold (for `flask pollers` and the health answer). Raises RedisError."""
        self.redis.hset(MEMBERS, self.poller_id, json.dumps(self._info(held, last_poll_at)))

    def _info(self, held: int, last_poll_at: float | None) -> dict:
        return {"host": socket.gethostname(), "pid": os.getpid(), "started_at": self.started_at,
                "beat_at": time.time(), "sellers": held, "last_poll_at": last_poll_at}

    def beat_if_due(self, now: float) -> bool:
        """Beat when one is due; True when it did (the members may have changed)."""
        if now < self.next_beat:
            return False
        try:
            self.beat(now)
        except RedisError:
            self.next_beat = now + min(BEAT, 1.0)  # try again soon; alive() turns false meanwhile
            raise
        return True

    def alive(self, now: float) -> bool:
        """Is our member key surely still there? If not, we hold nothing and poll nothing."""
        return now < self.alive_until and self.poller_id in self.members

    def share(self, seller_ids) -> set[int]:
        return split(self.members, seller_ids).get(self.poller_id, set())

    def _prune(self, known: list[str], live: set[str]) -> None:
        gone = [k for k in known if k not in live]
        if not gone:
            return
        now = time.time()
        for poller_id, raw in zip(gone, self.redis.hmget(MEMBERS, gone)):
            info = json.loads(raw) if raw else {}
            if now - float(info.get("beat_at") or 0) > GONE_KEPT:
                self.redis.hdel(MEMBERS, poller_id)

    def leave(self) -> None:
        """A clean stop: the others take our sellers at their next beat, not after MEMBER_TTL."""
        try:
            self.redis.delete(member_key(self.poller_id))
            self.redis.hdel(MEMBERS, self.poller_id)
        except RedisError:
            pass  # the key expires on its own

    # ---- poll slots ------------------------------------------------------------------

    def claim(self, seller_id: int) -> float:
        """Claim the seller's poll slot for one interval, just before polling it.

        Returns 0.0 when won; otherwise the seconds the slot is still held (by another poller
        during a handover, or by our own last poll). Taken right before the request, so two
        polls of a seller never reach WB closer together than the interval, give or take the
        network's jitter. Raises RedisError."""
        key = slot_key(seller_id)
        if self.redis.set(key, self.poller_id, nx=True, px=int(self.interval * 1000)):
            return 0.0
        return max(self.redis.pttl(key), 1) / 1000

    def take_recovery_turn(self) -> bool:
        """One poller in the deployment runs the periodic recovery each interval."""
        return bool(self.redis.set(RECOVERY_SLOT, self.poller_id, nx=True, px=int(self.interval * 1000)))


def _live(redis: Redis, poller_ids: list[str]) -> set[str]:
    if not poller_ids:
        return set()
    pipe = redis.pipeline(transaction=False)
    for poller_id in poller_ids:
        pipe.exists(member_key(poller_id))
    return {p for p, exists in zip(poller_ids, pipe.execute()) if exists}


@dataclass(frozen=True)
class PollerInfo:
    id: str
    live: bool
    host: str
    pid: int | None
    sellers: int
    started_at: float | None
    beat_at: float | None
    last_poll_at: float | None

    def as_dict(self) -> dict:
        return {"id": self.id, "live": self.live, "host": self.host, "pid": self.pid, "sellers": self.sellers,
                "started_at": _iso(self.started_at), "last_beat_at": _iso(self.beat_at),
                "last_poll_at": _iso(self.last_poll_at)}


def pollers(redis: Redis) -> list[PollerInfo]:
    """Every poller that beat within GONE_KEPT: live ones first, then the gone ones. Raises RedisError."""
    raw = {k.decode(): v for k, v in redis.hgetall(MEMBERS).items()}
    live = _live(redis, sorted(raw))
    found = []
    for poller_id, value in raw.items():
        try:
            info = json.loads(value)
        except ValueError:
            info = {}
        found.append(PollerInfo(poller_id, poller_id in live, str(info.get("host", "?")), info.get("pid"),
                                int(info.get("sellers") or 0) if poller_id in live else 0,
                                info.get("started_at"), info.get("beat_at"), info.get("last_poll_at")))
    return sorted(found, key=lambda p: (not p.live, p.id))


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")
