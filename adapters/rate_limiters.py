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
    def __init__(self, redis: Redis, prefix: str = "coursesignal:limits") -> None:
        self._redis = redis
        self._prefix = prefix

    def allow(self, key: str, limit: RateLimit) -> bool:
        window = int(time.time() // limit.per_seconds)
        name = f"{self._prefix}:{key}:{window}"
        try:
            pipeline = self._redis.pipeline()
            pipeline.incr(name)
            pipeline.expire(name, limit.per_seconds * 2)
            count = int(pipeline.execute()[0])
        except RedisError:
            log.warning("rate limit counter unavailable: event allowed")
            return True
        return count <= limit.events
