from __future__ import annotations

from typing import Protocol

from core.domain.metrics import AccountFacts


class MetricsQueries(Protocol):
    """The operator's read side: plain rows across every account (never shown to a creator)."""

    def accounts(self) -> list[AccountFacts]:
        """Every account, oldest first."""
        ...
