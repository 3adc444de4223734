"""Calling Teachable over HTTP: timeouts, and bounded retries with backoff on 429, 5xx and network errors.

Teachable documents a 429 with `RateLimit-Reset` (seconds until the window resets) for its OAuth API and
is said to limit the Admin API to about 100 requests a minute (research §2.4, unconfirmed): the wait
honours `Retry-After` or `RateLimit-Reset` when present, and otherwise doubles from `base_delay`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from coursesignal import PlatformError

log = logging.getLogger(__name__)

#: (connect, read) seconds: a platform that hangs must not hold a sync job forever.
TIMEOUT = (5.0, 30.0)


class TeachableUnavailable(PlatformError):
    """Teachable kept failing or could not be reached after every retry: try again later."""


def _is_retryable(response: requests.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


def server_asked_wait(response: requests.Response) -> float | None:
    """Seconds the server asked us to wait (Retry-After, else RateLimit-Reset), or None."""
    for header in ("Retry-After", "RateLimit-Reset"):
        value = response.headers.get(header)
        if value is None:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            continue
    return None


@dataclass
class RetryingHttp:
    """GET with bounded retries. `sleep` is injectable so tests never wait."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: tuple[float, float] = TIMEOUT
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def get(
        self, session: requests.Session, url: str, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> requests.Response:
        """The first answer that is not worth retrying; TeachableUnavailable when none comes."""
        reason = ""
        for attempt in range(1, self.attempts + 1):
            asked: float | None = None
            try:
                response = session.get(url, params=dict(params), headers=dict(headers), timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as failure:
                reason = type(failure).__name__
            else:
                if not _is_retryable(response):
                    return response
                reason = f"HTTP {response.status_code}"
                asked = server_asked_wait(response)
            if attempt == self.attempts:
                break
            wait = min(self.max_delay, asked if asked is not None else self.base_delay * 2 ** (attempt - 1))
            log.info("Teachable: %s on %s, retrying in %.1f s (attempt %d)", reason, url, wait, attempt)
            self.sleep(wait)
        log.warning("Teachable: giving up on %s after %d attempts (%s)", url, self.attempts, reason)
        raise TeachableUnavailable(
            f"Teachable is not answering right now ({reason}). CourseSignal will try again; "
            "if this lasts, check status.teachable.com."
        )
