from __future__ import annotations

from datetime import date, datetime
from typing import Protocol

from core.domain.metrics import AccountFacts, ConnectionAttempt, FailedDeliveries, StatusChange


class MetricsQueries(Protocol):
    """The operator's read side: plain rows across every account (never shown to a creator)."""

    def accounts(self) -> list[AccountFacts]:
        """Every account, oldest first."""
        ...

    def status_changes(self) -> list[StatusChange]:
        """Every change of an account's Stripe subscription status, oldest first."""
        ...

    def connection_attempts(self) -> list[ConnectionAttempt]:
        """Every try at connecting a platform, oldest first."""
        ...

    def first_events(self) -> dict[int, datetime]:
        """Per account, when its tracker first sent an event that was stored."""
        ...

    def first_attributed_sales(self) -> dict[int, datetime]:
        """Per account, its first purchase made after signup that was matched to a visitor."""
        ...

    def events_per_day(self, since: datetime) -> dict[date, int]:
        """Stored tracker events per UTC day from `since`, all accounts together."""
        ...

    def purchases_per_day(self, since: datetime) -> dict[date, int]:
        """Purchases per UTC day of purchase from `since`, all accounts together."""
        ...

    def failed_deliveries(self, since: datetime) -> FailedDeliveries:
        """Webhook deliveries whose last attempt failed: waiting now (and on how many accounts), and failed
        from `since`."""
        ...
