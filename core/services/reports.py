"""The revenue-by-source report: the read side, answered from stored attribution results."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.attribution import Model
from core.domain.reports import ReportRange, SourceLine, UnmatchedTotals, source_lines
from core.ports.clock import Clock
from core.ports.reports import ReportQueries

DEFAULT_CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class SourceReport:
    range: ReportRange
    model: Model
    currency: str
    lines: list[SourceLine]
    unmatched: UnmatchedTotals


class Reports:
    def __init__(self, queries: ReportQueries, clock: Clock) -> None:
        self._queries = queries
        self._clock = clock

    def sources(
        self, account_id: int, report_range: ReportRange, model: Model, currency: str | None = None
    ) -> SourceReport:
        """Revenue by source for one currency: amounts in different currencies are never summed."""
        now = self._clock.now()
        since = report_range.since(now)
        if currency is None:
            currency = next(iter(self._queries.currencies(account_id)), DEFAULT_CURRENCY)
        totals = self._queries.source_totals(account_id, model=model, currency=currency, since=since, until=now)
        unmatched = self._queries.unmatched_totals(account_id, currency=currency, since=since, until=now)
        return SourceReport(report_range, model, currency, source_lines(totals), unmatched)
