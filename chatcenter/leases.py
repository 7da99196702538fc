"""One run at a time per job id (a seller's sync, a chat's analysis), across machines.

A lease, not a lock: a short Redis key that a heartbeat thread keeps alive while the run
lasts. If the process dies (SIGKILL, OOM, power) the heartbeat stops with it and the key
expires within TTL seconds, so a crashed run blocks its subject for seconds, not minutes.
The enqueue check reads the same key to tell a running job from a dead "started" one.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Iterator

from redis import Redis
from redis.exceptions import RedisError

from chatcenter.config import REDIS_PREFIX

log = logging.getLogger("chatcenter.leases")

TTL = 15.0  # seconds a lease outlives its last heartbeat
BEAT = TTL / 3  # so two missed beats in a row are still survived


def lease_key(job_id: str) -> str:
    return f"{REDIS_PREFIX}lease:{job_id}"


def is_held(redis: Redis, job_id: str) -> bool:
    return bool(redis.exists(lease_key(job_id)))


class Lease:
    def __init__(self, redis: Redis, job_id: str, ttl: float = TTL):
        self.job_id = job_id
        # Not thread-local: the heartbeat thread extends the lock the run's thread took
        # (with redis-py's default it cannot see the token, and the lease lapsed after TTL).
        self._lock = redis.lock(lease_key(job_id), timeout=ttl, thread_local=False)
        self._ttl = ttl
        self._beat_every = ttl / 3  # as BEAT: two missed beats in a row are still survived
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self._lock.acquire(blocking=False):
            return False
        self._thread = threading.Thread(target=self._beat, name=f"lease-{self.job_id}", daemon=True)
        self._thread.start()
        return True

    def owned(self) -> bool:
        """Does this run still hold the lease? (For writes that must not happen otherwise.)"""
        try:
            return self._lock.owned()
        except RedisError:
            return False

    def _beat(self) -> None:
        while not self._stop.wait(self._beat_every):
            try:
                self._lock.extend(self._ttl, replace_ttl=True)
            except Exception as exc:  # LockNotOwnedError or Redis away: say so, keep trying
                log.warning("lease %s: heartbeat failed (%s)", self.job_id, type(exc).__name__)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._beat_every)
        try:
            self._lock.release()
        except Exception:  # expired or Redis away: it will expire on its own
            log.warning("lease %s had expired before the run ended", self.job_id)


@contextmanager
def exclusive(redis: Redis, job_id: str) -> Iterator[Lease | None]:
    """Yield the held lease, or None when another run holds it (then do nothing)."""
    lease = Lease(redis, job_id)
    if not lease.acquire():
        yield None
        return
    try:
        yield lease
    finally:
        lease.release()
