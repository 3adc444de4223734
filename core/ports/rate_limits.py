from __future__ import annotations

from typing import Protocol

from core.domain.events import RateLimit


class RateLimiter(Protocol):
    def allow(self, key: str, limit: RateLimit) -> bool:
        """Count one more event for `key` and say whether it is within `limit`. Answers yes when the
        counter itself is unavailable: a limit never costs a real visitor's event."""
        ...
