from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol

from core.domain.attribution import Model
from core.domain.reports import (
    Breakdown,
    DailyRevenue,
    Grouping,
    PurchaseRow,
    PurchaseSearch,
    ReferrerHost,
    SessionRow,
    SourceTotals,
    UnmatchedTotals,
)


class ReportQueries(Protocol):
    """The read side: plain rows straight from the store. Every query takes the account id first and sees
    nothing of any other account."""

    def reading(self) -> AbstractContextManager[None]:
        """Run the queries made inside on one connection and one snapshot: a report's tables agree with each
        other, and a report pays for one connection checkout, not one per query."""
        ...

    def currencies(self, account_id: int) -> list[str]:
        """The account's purchase currencies, the one with the most purchases first."""
        ...

    def source_totals(
        self,
        account_id: int,
        *,
        model: Model,
        currency: str,
        since: datetime | None,
        until: datetime,
        group: Grouping = Grouping.SOURCE,
    ) -> list[SourceTotals]: ...

    def breakdown_totals(
        self,
        account_id: int,
        *,
        source: str,
        breakdown: Breakdown,
        model: Model,
        currency: str,
        since: datetime | None,
        until: datetime,
    ) -> list[SourceTotals]:
        """One source's visitors and revenue by medium, campaign or landing page."""
        ...

    def unmatched_totals(
        self, account_id: int, *, currency: str, since: datetime | None, until: datetime
    ) -> UnmatchedTotals: ...

    def daily_revenue(
        self, account_id: int, *, currency: str, since: datetime | None, until: datetime
    ) -> list[DailyRevenue]:
        """Per UTC day with purchases: revenue net of refunds, purchases, matched purchases."""
        ...

    def has_source(self, account_id: int, source: str) -> bool:
        """Whether any visitor or purchase of the account ever came from `source`."""
        ...

    def purchases(
        self,
        account_id: int,
        *,
        limit: int,
        credited_to: tuple[Model, str] | None = None,
        currency: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PurchaseRow]:
        """The newest purchases first; `credited_to` keeps those a model credits to one source."""
        ...

    def find_purchases(
        self, account_id: int, search: PurchaseSearch, *, limit: int, offset: int = 0
    ) -> tuple[list[PurchaseRow], int]:
        """One page of the purchases matching the search, newest first, and how many match in all."""
        ...

    def purchase(self, account_id: int, purchase_id: int) -> PurchaseRow | None: ...

    def buyer_sessions(self, account_id: int, purchase_id: int) -> list[SessionRow]:
        """Every session of the browser the purchase was matched to and of every browser that identified
        with the buyer's email, oldest first."""
        ...

    def referral_hosts(self, account_id: int, *, since: datetime | None) -> list[ReferrerHost]:
        """The referring hosts of the account's sessions filed under Referral since `since`, most sessions
        first."""
        ...

    def recorded_sources(self, account_id: int) -> list[str]:
        """Every source the account's visits were recorded under, as recorded (before the creator's rules)."""
        ...

    def bot_visits(self, account_id: int, *, since: date) -> int:
        """Bot visits dropped for the account's sites on or after the (UTC) day `since`."""
        ...
