"""One run at a time per subject (a seller's sync, a chat's analysis), across machines."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from redis import Redis
from redis.lock import Lock

log = logging.getLogger("jobs.leases")


@contextmanager
def exclusive_run(redis: Redis, name: str, lease_seconds: int) -> Iterator[Lock | None]:
    """Yield the held lease, or None when another run holds it (do nothing then).

    A lease, not a lock: if the worker dies it expires by itself after lease_seconds;
    long runs renew it with lock.extend().
    """
    lock = redis.lock(f"chatcenter:running:{name}", timeout=lease_seconds)
    acquired = lock.acquire(blocking=False)
    try:
        yield lock if acquired else None
    finally:
        if acquired:
            try:
                lock.release()
            except Exception:  # the lease expired first: nothing left to release
                log.warning("lease %s had expired before the run ended", name)
