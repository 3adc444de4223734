"""The collect endpoint's rate limits: counters in process memory, and the 429 a flood gets."""

from __future__ import annotations

import json

import pytest
from dependency_injector import providers

from adapters.rate_limiters import InMemoryRateLimiter
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
