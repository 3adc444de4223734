from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.domain.attribution import Model
from core.domain.reports import SourceTotals, UnmatchedTotals


class ReportQueries(Protocol):
    """The read side: plain rows straight from the store, always scoped to one account."""

    def currencies(self, account_id: int) -> list[str]:
        """The account's purchase currencies, the one with most revenue first."""
        ...

    def source_totals(
        self, account_id: int, *, model: Model, currency: str, since: datetime | None, until: datetime
    ) -> list[SourceTotals]: ...

    def unmatched_totals(
        self, account_id: int, *, currency: str, since: datetime | None, until: datetime
    ) -> UnmatchedTotals: ...
