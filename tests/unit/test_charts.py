"""The server-drawn revenue chart: valid SVG, bars in proportion on round gridlines, every day labelled for
people and screen readers, nothing a strict CSP would block."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from adapters.web.charts import daily_revenue_svg, nice_ceiling
from adapters.web.display import Display
from core.domain.display import DisplaySettings
from core.domain.reports import DailyRevenue

SVG = "{http://www.w3.org/2000/svg}"
US = Display(DisplaySettings())


def test_bars_are_in_proportion_and_labelled() -> None:
    days = [DailyRevenue(date(2026, 11, d), cents, n, n) for d, cents, n in [(18, 10000, 2), (19, 0, 0), (20, 5000, 1)]]
    svg = daily_revenue_svg(days, "USD", US)
    root = ET.fromstring(svg)  # noqa: S314
    bars = root.findall(f".//{SVG}g[@class='bar']")
    heights = [float(b.find(f"{SVG}rect[@class='fill']").get("height", "0")) for b in bars]  # type: ignore[union-attr]
    assert len(bars) == 3
    assert heights[1] == 0
    assert heights[0] == 2 * heights[2] > 0
    assert [b.get("aria-label") for b in bars] == [
        "Nov 18, 2026: $100.00, 2 purchases",
        "Nov 19, 2026: $0.00, 0 purchases",
        "Nov 20, 2026: $50.00, 1 purchase",
    ]
    assert all(b.get("tabindex") == "0" for b in bars)  # reachable by keyboard without the script too
    assert root.get("aria-label") == "Revenue per day: $150.00 over 3 days"
    assert "style=" not in svg
    assert "<script" not in svg


def test_gridlines_fall_on_round_amounts_in_the_accounts_format() -> None:
    days = [DailyRevenue(date(2026, 11, 1) + timedelta(days=i), cents, 1, 1) for i, cents in enumerate([7900, 1000])]
    root = ET.fromstring(daily_revenue_svg(days, "USD", US))  # noqa: S314
    ticks = [t.text for t in root.findall(f".//{SVG}g[@class='grid']/{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks == ["$0", "$20", "$40", "$60", "$80"]  # the highest day, 79.00, stays under the top line
    assert len(root.findall(f".//{SVG}line")) == 5
    german = Display(DisplaySettings("de_DE", "Europe/Berlin"))
    root = ET.fromstring(daily_revenue_svg(days, "EUR", german))  # noqa: S314
    assert root.find(f".//{SVG}g[@class='bar']").get("aria-label") == "01.11.2026: 79,00\N{NO-BREAK SPACE}€, 1 purchase"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("highest", "top", "step"),
    [(0, 4, 1), (7900, 8000, 2000), (10000, 10000, 2500), (3461100, 4000000, 1000000), (1, 4, 1), (12001, 20000, 5000)],
)
def test_nice_ceiling(highest: int, top: int, step: int) -> None:
    assert nice_ceiling(highest) == (top, step)
    assert top >= highest


def test_a_long_range_labels_about_a_week_of_dates_and_every_bar() -> None:
    days = [DailyRevenue(date(2026, 8, 23) + timedelta(days=i), 100 * i, 1, 1) for i in range(90)]
    root = ET.fromstring(daily_revenue_svg(days, "USD", US))  # noqa: S314
    dates = [t for t in root.findall(f".//{SVG}g[@class='grid']/{SVG}text") if t.get("text-anchor") != "end"]
    assert 6 <= len(dates) <= 8
    assert dates[0].text == "Aug 23"
    assert len(root.findall(f".//{SVG}g[@class='bar']")) == 90


def test_no_days_and_hostile_text_still_draw_safely() -> None:
    empty = ET.fromstring(daily_revenue_svg([], "JPY", US, title="<b>&"))  # noqa: S314
    assert empty.findall(f".//{SVG}g[@class='bar']") == []
    assert empty.get("aria-label") == "<b>&: ¥0 over 0 days"
