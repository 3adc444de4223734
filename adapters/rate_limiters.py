"""The collect endpoint's rate limits: fixed-window event counters in this process's memory.

Neither on Redis nor on `limits` (the library under Flask-Limiter, which counts the forms), for the collect
path's budget of one network round trip per event, the insert that makes it durable:
- `limits` on Redis costs one round trip per limit hit, two per event (per sender, per site);
- `limits`' in-memory storage starts a timer thread to expire its keys, again whenever the last one has
  run (every few events at a few hundred events a second), each scanning every key.
Measured in docs/operations.md ("One network round trip per event"). In memory, each gunicorn process
counts on its own, so with N processes a sender gets up to N times its limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from core.domain.events import RateLimit


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
