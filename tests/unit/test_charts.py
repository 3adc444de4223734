"""The server-drawn revenue chart: valid SVG, bars in proportion, labelled for people and screen readers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from adapters.web.charts import daily_revenue_svg
from core.domain.reports import DailyRevenue

SVG = "{http://www.w3.org/2000/svg}"


def test_bars_are_in_proportion_and_labelled() -> None:
    days = [DailyRevenue(date(2026, 11, d), cents, 1, 1) for d, cents in [(18, 10000), (19, 0), (20, 5000)]]
    root = ET.fromstring(daily_revenue_svg(days, "USD"))  # noqa: S314
    bars = root.findall(f"{SVG}rect")
    heights = [float(b.get("height", "0")) for b in bars]
    assert len(bars) == 3
    assert heights[1] == 0
    assert heights[0] == 2 * heights[2] > 0
    assert [b.find(f"{SVG}title").text for b in bars] == [  # type: ignore[union-attr]
        "2026-11-18: 100.00 USD",
        "2026-11-19: 0.00 USD",
        "2026-11-20: 50.00 USD",
    ]
    assert root.get("aria-label") == "Revenue per day: 150.00 USD over 3 days"
    assert "style=" not in daily_revenue_svg(days, "USD")
    assert "<script" not in daily_revenue_svg(days, "USD")


def test_no_days_and_hostile_text_still_draw_safely() -> None:
    empty = ET.fromstring(daily_revenue_svg([], "JPY", title="<b>&"))  # noqa: S314
    assert empty.findall(f"{SVG}rect") == []
    assert empty.get("aria-label") == "<b>&: 0 JPY over 0 days"
