"""Calling a platform's HTTP API: timeouts, and bounded retries with backoff on 429 (honouring
Retry-After or RateLimit-Reset), on 5xx and on network errors. Every platform adapter, built in or plugin,
uses this one helper (plugins get it as `coursesignal.RetryingHttp`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests

from core.ports.platforms import PlatformUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: (connect, read) seconds: a platform that hangs must not hold a job forever.
DEFAULT_TIMEOUT = (5.0, 30.0)


class RetryableStatus(Exception):
    """A response worth retrying (429 or 5xx), raised so the retry loop sees it."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def raise_for_retryable(response: requests.Response) -> requests.Response:
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryableStatus(response)
    return response


def retry_after_seconds(response: requests.Response) -> float | None:
    """Retry-After as seconds (it may be a number or an HTTP date), else RateLimit-Reset (seconds until the
    window resets, as Teachable sends), or None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        reset = response.headers.get("RateLimit-Reset")
        try:
            return max(0.0, float(reset)) if reset else None
        except ValueError:
            return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


@dataclass
class RetryingHttp:
    """Bounded retries around one platform's calls. `sleep` is injectable so tests do not wait."""

    platform_name: str
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def run(self, call: Callable[[], T]) -> T:
        """Run `call` until it returns, retrying what is worth retrying; PlatformUnavailable at the end."""
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except RetryableStatus as error:
                delay = retry_after_seconds(error.response)
                reason = f"HTTP {error.response.status_code}"
            except (requests.ConnectionError, requests.Timeout) as error:
                delay = None
                reason = type(error).__name__
            if attempt == self.attempts:
                log.warning("%s: giving up after %d attempts (%s)", self.platform_name, attempt, reason)
                raise PlatformUnavailable(
                    f"{self.platform_name} is not answering right now ({reason}). Try again in a few minutes."
                )
            wait = min(self.max_delay, delay if delay is not None else self.base_delay * 2 ** (attempt - 1))
            log.info("%s: %s, retrying in %.1f s (attempt %d)", self.platform_name, reason, wait, attempt)
            self.sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")

    def request(self, session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.run(lambda: raise_for_retryable(session.request(method, url, **kwargs)))
