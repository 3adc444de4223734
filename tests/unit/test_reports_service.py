"""The Reports service over a recording stand-in for the read side: which rows it asks for, what it derives."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, date, datetime
from typing import Any

import pytest

from core.domain.attribution import Model
from core.domain.reports import Breakdown, DailyRevenue, Grouping, ReportRange, SortOrder, SourceTotals, UnmatchedTotals
from core.services.reports import Reports, UnknownSource
from tests.unit.fakes import FixedClock

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


class RecordingQueries:
    """Answers with fixed rows and remembers each call's arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _note(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))

    def reading(self) -> AbstractContextManager[None]:
        return nullcontext()

    def currencies(self, account_id: int) -> list[str]:
        return ["EUR", "USD"]

    def source_totals(self, account_id: int, **kwargs: Any) -> list[SourceTotals]:
        self._note("source_totals", **kwargs)
        return [SourceTotals("", "", 10, 5000, 2, 2), SourceTotals("spring", "", 20, 9000, 1, 1)]

    def breakdown_totals(self, account_id: int, **kwargs: Any) -> list[SourceTotals]:
        self._note("breakdown_totals", **kwargs)
        return [SourceTotals("video", "", 4, 1000, 1, 1)]

    def unmatched_totals(self, account_id: int, **kwargs: Any) -> UnmatchedTotals:
        return UnmatchedTotals(700, 1)

    def daily_revenue(self, account_id: int, **kwargs: Any) -> list[DailyRevenue]:
        self._note("daily_revenue", **kwargs)
        return [DailyRevenue(date(2026, 11, 10), 1000, 1, 1), DailyRevenue(date(2026, 11, 19), 3000, 2, 1)]

    def has_source(self, account_id: int, source: str) -> bool:
        return source == "YouTube"

    def purchases(self, account_id: int, **kwargs: Any) -> list[Any]:
        self._note("purchases", **kwargs)
        return []

    def purchase(self, account_id: int, purchase_id: int) -> None:
        return None

    def buyer_sessions(self, account_id: int, purchase_id: int) -> list[Any]:
        raise AssertionError("not asked for a purchase that is not found")


@pytest.fixture
def queries() -> RecordingQueries:
    return RecordingQueries()


def test_sources_by_campaign_sorted_and_labelled(queries: RecordingQueries) -> None:
    report = Reports(queries, FixedClock(NOW)).sources(
        1, ReportRange.LAST_7_DAYS, Model.LAST_TOUCH, group=Grouping.CAMPAIGN, sort=SortOrder.parse("-visitors")
    )
    assert report.currency == "EUR"
    assert [line.label for line in report.lines] == ["spring", "(no campaign)"]
    (_, asked), *_ = queries.calls
    assert asked == {
        "model": Model.LAST_TOUCH,
        "currency": "EUR",
        "since": datetime(2026, 11, 14, tzinfo=UTC),
        "until": NOW,
        "group": Grouping.CAMPAIGN,
    }


def test_the_summary_reads_back_into_the_previous_period(queries: RecordingQueries) -> None:
    report = Reports(queries, FixedClock(NOW)).summary(1, ReportRange.LAST_7_DAYS, "USD")
    assert queries.calls == [
        ("daily_revenue", {"currency": "USD", "since": datetime(2026, 11, 7, tzinfo=UTC), "until": NOW})
    ]
    assert (report.summary.revenue, report.summary.previous_revenue, report.summary.trend_percent) == (
        3000,
        1000,
        200.0,
    )
    assert len(report.summary.daily) == 7


def test_drill_down_asks_each_table_and_the_credited_purchases(queries: RecordingQueries) -> None:
    reports = Reports(queries, FixedClock(NOW))
    detail = reports.source_detail(1, "YouTube", ReportRange.ALL_TIME, Model.FIRST_TOUCH)
    assert set(detail.tables) == set(Breakdown)
    assert [c for c, kw in queries.calls if c == "breakdown_totals"] == ["breakdown_totals"] * len(Breakdown)
    assert queries.calls[-1] == (
        "purchases",
        {"limit": 50, "credited_to": (Model.FIRST_TOUCH, "YouTube"), "currency": "EUR", "since": None, "until": NOW},
    )
    with pytest.raises(UnknownSource):
        reports.source_detail(1, "TikTok", ReportRange.ALL_TIME, Model.FIRST_TOUCH)


def test_recent_purchases_are_bounded_and_a_stranger_purchase_is_none(queries: RecordingQueries) -> None:
    reports = Reports(queries, FixedClock(NOW))
    reports.recent_purchases(1, 10_000)
    reports.recent_purchases(1, 0)
    assert [kw["limit"] for _, kw in queries.calls] == [200, 1]
    assert reports.purchase(1, 42) is None
