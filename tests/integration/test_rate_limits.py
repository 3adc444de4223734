"""The collect endpoint's rate limits: counters in memory and on a real Redis, and the 429 a flood gets."""

from __future__ import annotations

import json
import uuid

import pytest
from dependency_injector import providers

from adapters.jobs.rq_queue import connect_redis
from adapters.rate_limiters import InMemoryRateLimiter, RedisRateLimiter
from core.domain.events import RateLimit

LIMIT = RateLimit(events=3, per_seconds=60)
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"}


def test_in_memory_counts_per_key_and_per_window() -> None:
    now = [0.0]
    limiter = InMemoryRateLimiter(clock=lambda: now[0])
    assert [limiter.allow("a", LIMIT) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", LIMIT)
    now[0] = 61.0
    assert limiter.allow("a", LIMIT)


@pytest.mark.redis
def test_redis_counts_are_shared_and_expire(redis_url: str) -> None:
    prefix = f"coursesignal-test-{uuid.uuid4().hex[:8]}"
    redis = connect_redis(redis_url)
    one, other = RedisRateLimiter(redis, prefix), RedisRateLimiter(connect_redis(redis_url), prefix)
    try:
        assert [one.allow("a", LIMIT), other.allow("a", LIMIT), one.allow("a", LIMIT)] == [True, True, True]
        assert not other.allow("a", LIMIT)
        assert all(0 < redis.ttl(key) <= 120 for key in redis.scan_iter(f"{prefix}:*"))
    finally:
        for key in redis.scan_iter(f"{prefix}:*"):
            redis.delete(key)


def test_an_unreachable_redis_never_costs_an_event() -> None:
    assert RedisRateLimiter(connect_redis("redis://127.0.0.1:1/0")).allow("a", LIMIT)


def test_without_redis_the_limits_are_counted_in_memory_and_redis_is_tried_again_later() -> None:
    now = [0.0]
    limiter = RedisRateLimiter(connect_redis("redis://127.0.0.1:1/0"), pause_seconds=5, clock=lambda: now[0])
    assert [limiter.allow("a", LIMIT) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", LIMIT)
    now[0] = 61.0  # a new window, and Redis is tried (and fails) again
    assert limiter.allow("a", LIMIT)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_flooding_sender_gets_429_and_nothing_more_is_stored(client, container) -> None:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    site = accounts.add_site("creator@example.com", ["example.com"])
    limiter = InMemoryRateLimiter()
    container.gateways.rate_limiter.override(providers.Object(_Tight(limiter)))
    container.services.tracking.reset()
    try:
        statuses = []
        for n in range(5):
            event = {
                "s": site.public_key,
                "n": "pageview",
                "i": f"event{n:04d}",
                "v": "visitor01",
                "u": "https://example.com/",
            }
            statuses.append(client.post("/t/e", data=json.dumps(event), headers=BROWSER))
        assert [r.status_code for r in statuses] == [204, 204, 204, 429, 429]
        assert statuses[-1].headers["Retry-After"] == "60"
    finally:
        container.gateways.rate_limiter.reset_override()
        container.services.tracking.reset()


class _Tight:
    """The real counter with a limit of three, whatever limit the pipeline asks for."""

    def __init__(self, inner: InMemoryRateLimiter) -> None:
        self._inner = inner

    def allow(self, key: str, limit: RateLimit) -> bool:
        return self._inner.allow(key, LIMIT) if key.startswith("client:") else True
