"""RedisRateLimiter against the real Redis (the test database, unique keys)."""
import threading
import time
import uuid

import pytest
import redis

from chatcenter.clients.ratelimit import RateLimitWaitTooLong, RedisRateLimiter


@pytest.fixture
def rds(redis_client):
    return redis_client


@pytest.fixture
def key(rds):
    prefix = f"test:ratelimit:{uuid.uuid4().hex}"
    yield prefix
    # Delete only what this test created: the Redis server is shared.
    for k in rds.scan_iter(match=f"{prefix}*"):
        rds.delete(k)


def test_limit_then_refuses_within_period(rds, key):
    lim = RedisRateLimiter(rds, key, limit=10, period=1.0)
    for _ in range(10):
        lim.acquire(max_wait=0)  # raises if it would have to wait
    with pytest.raises(RateLimitWaitTooLong) as info:
        lim.acquire(max_wait=0.1)
    assert 0 < info.value.wait_seconds <= 1.0


def test_eleventh_waits_for_oldest_slot(rds, key):
    lim = RedisRateLimiter(rds, key, limit=10, period=0.5)
    for _ in range(10):
        lim.acquire(max_wait=0)
    t0 = time.monotonic()
    lim.acquire(max_wait=2.0)
    waited = time.monotonic() - t0
    assert 0.3 <= waited < 5  # it waited for the oldest slot (generous upper bound: a busy machine)


def test_shared_between_instances(rds, key, redis_url):
    a = RedisRateLimiter(rds, key, limit=10, period=1.0)
    b = RedisRateLimiter(redis.Redis.from_url(redis_url), key, limit=10, period=1.0)
    for _ in range(5):
        a.acquire(max_wait=0)
        b.acquire(max_wait=0)
    with pytest.raises(RateLimitWaitTooLong):
        b.acquire(max_wait=0)
    with pytest.raises(RateLimitWaitTooLong):
        a.acquire(max_wait=0)
    # Another key is not affected.
    RedisRateLimiter(rds, key + ":other", limit=10, period=1.0).acquire(max_wait=0)


def test_atomic_under_concurrency(rds, key, redis_url):
    granted, refused = [], []

    def worker():
        lim = RedisRateLimiter(redis.Redis.from_url(redis_url), key, limit=10, period=2.0)
        for _ in range(5):
            try:
                lim.acquire(max_wait=0)
                granted.append(1)
            except RateLimitWaitTooLong:
                refused.append(1)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 10 and len(refused) == 20


def test_block_for(rds, key):
    lim = RedisRateLimiter(rds, key, limit=10, period=1.0)
    other = RedisRateLimiter(rds, key, limit=10, period=1.0)
    lim.block_for(0.4)
    with pytest.raises(RateLimitWaitTooLong) as info:
        other.acquire(max_wait=0)
    assert 0 < info.value.wait_seconds <= 0.4
    t0 = time.monotonic()
    other.acquire(max_wait=1.0)
    assert 0.25 <= time.monotonic() - t0 < 5


def test_block_for_never_shortens(rds, key):
    lim = RedisRateLimiter(rds, key, limit=10, period=1.0)
    lim.block_for(5)
    lim.block_for(0.1)
    assert rds.pttl(lim.block_key) > 4000


def test_keys_expire_on_their_own(rds, key):
    lim = RedisRateLimiter(rds, key, limit=10, period=0.3)
    lim.acquire(max_wait=0)
    lim.block_for(0.2)
    assert 0 < rds.pttl(key) <= 300
    assert 0 < rds.pttl(lim.block_key) <= 200
    time.sleep(0.35)
    assert not rds.exists(key, lim.block_key)


def test_bad_arguments(rds, key):
    with pytest.raises(ValueError):
        RedisRateLimiter(rds, key, limit=0)
    with pytest.raises(ValueError):
        RedisRateLimiter(rds, key, period=0)
    with pytest.raises(ValueError):
        RedisRateLimiter(rds, "")


def test_wait_seconds_tells_without_taking_a_slot(rds, key):
    lim = RedisRateLimiter(rds, key, limit=3, period=60.0)
    assert lim.wait_seconds() == 0.0
    for _ in range(3):
        assert lim.wait_seconds() == 0.0  # asking never uses a slot up
        assert lim.try_acquire() == 0.0
    assert 55.0 < lim.wait_seconds() <= 60.0
    assert lim.try_acquire() > 0  # full: the answer was right
    lim.block_for(120)
    assert lim.wait_seconds() > 100.0
