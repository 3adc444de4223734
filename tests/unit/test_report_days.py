"""Days in report addresses: YYYY-MM-DD and nothing else Python would also read as a date."""

from __future__ import annotations

from datetime import date

import pytest

from core.domain.reports import CustomRange, ReportRange, parse_day, parse_period


def test_a_day_is_written_year_month_day() -> None:
    assert parse_day("2026-11-01") == date(2026, 11, 1)


@pytest.mark.parametrize("text", ["20261101", "2026-W44-1", "2026-1-1", "2026-02-30", "2026-11-01T00:00", ""])
def test_anything_else_is_not_a_day(text: str) -> None:
    with pytest.raises(ValueError, match="from and to are days written YYYY-MM-DD"):
        parse_day(text)


def test_a_custom_range_reads_its_days_strictly() -> None:
    assert parse_period("custom", "2026-11-19", "2026-11-10") == CustomRange(date(2026, 11, 10), date(2026, 11, 19))
    assert parse_period("custom") is ReportRange.LAST_30_DAYS
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_period("custom", "20261110", "2026-11-19")
