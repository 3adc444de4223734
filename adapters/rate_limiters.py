"""Fixed-window event counters for the ingestion pipeline's rate limits: in memory for the embedded
default (one process), on Redis when it is configured (shared by every web process)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from core.domain.events import RateLimit

log = logging.getLogger(__name__)


class InMemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}  # key -> (window number, events counted)

    def allow(self, key: str, limit: RateLimit) -> bool:
        window = int(self._clock() // limit.per_seconds)
        with self._lock:
            if len(self._windows) > 100_000:  # forget finished windows rather than grow without bound
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
            current, count = self._windows.get(key, (window, 0))
            count = count + 1 if current == window else 1
            self._windows[key] = (window, count)
        return count <= limit.events


class RedisRateLimiter:
    """Counts in Redis; while Redis is down or frozen, in this process's memory (the same limits, per
    process). After a failure Redis is left alone for `pause_seconds`, so a frozen Redis costs one socket
    timeout per pause, not one per event."""

    def __init__(
        self,
        redis: Redis,
        prefix: str = "coursesignal:limits",
        *,
        pause_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._pause_seconds = pause_seconds
        self._clock = clock
        self._fallback = InMemoryRateLimiter(clock)
        self._redis_again_at = 0.0

    def allow(self, key: str, limit: RateLimit) -> bool:
        if self._clock() < self._redis_again_at:
            return self._fallback.allow(key, limit)
        window = int(time.time() // limit.per_seconds)
        name = f"{self._prefix}:{key}:{window}"
        try:
            pipeline = self._redis.pipeline()
            pipeline.incr(name)
            pipeline.expire(name, limit.per_seconds * 2)
            count = int(pipeline.execute()[0])
        except RedisError:
            log.warning("rate limit counter unavailable: counting in this process for %s s", self._pause_seconds)
            self._redis_again_at = self._clock() + self._pause_seconds
            return self._fallback.allow(key, limit)
        return count <= limit.events
