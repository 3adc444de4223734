"""The revenue-by-source report's rows and the ratios derived from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class ReportRange(StrEnum):
    LAST_7_DAYS = "7d"
    LAST_30_DAYS = "30d"
    LAST_90_DAYS = "90d"
    ALL_TIME = "all"

    def since(self, now: datetime) -> datetime | None:
        days = {"7d": 7, "30d": 30, "90d": 90}.get(self.value)
        return None if days is None else now - timedelta(days=days)


@dataclass(frozen=True, slots=True)
class SourceTotals:
    """What the read side counts for one source; plain numbers, no aggregates loaded."""

    source: str
    channel: str
    visitors: int
    revenue: int  # minor units, net of refunds
    students: int  # distinct buyers
    purchases: int


@dataclass(frozen=True, slots=True)
class SourceLine:
    totals: SourceTotals
    conversion_rate: float | None  # students / visitors, None when there were no visitors
    avg_order_value: int | None  # minor units, rounded half up
    revenue_per_visitor: int | None


@dataclass(frozen=True, slots=True)
class UnmatchedTotals:
    revenue: int
    purchases: int


def _ratio(numerator: int, denominator: int) -> int | None:
    if denominator == 0:
        return None
    return (2 * numerator + denominator) // (2 * denominator)


def source_line(totals: SourceTotals) -> SourceLine:
    return SourceLine(
        totals=totals,
        conversion_rate=round(totals.students / totals.visitors, 4) if totals.visitors else None,
        avg_order_value=_ratio(totals.revenue, totals.purchases),
        revenue_per_visitor=_ratio(totals.revenue, totals.visitors),
    )


def source_lines(rows: list[SourceTotals]) -> list[SourceLine]:
    """Lines ordered by revenue, then visitors, then name: the order a creator reads them in."""
    ordered = sorted(rows, key=lambda r: (-r.revenue, -r.visitors, r.source.lower()))
    return [source_line(r) for r in ordered]
