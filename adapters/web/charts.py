"""Charts drawn on the server as SVG: no third-party files, nothing a strict Content-Security-Policy blocks
(classes and presentation attributes only, no style attributes, no inline scripts; colours in dashboard.css).

Each bar is a focusable element with an aria-label carrying its figures and a <title> (the tooltip a mouse
gets without JavaScript). static/dashboard/charts.js turns those into one tooltip shown on hover, on tap and
on keyboard focus, and lets the arrow keys move from bar to bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from adapters.web.display import Display
from core.domain.reports import DailyRevenue

WIDTH = 720
HEIGHT = 260
_LEFT = 84  # room for the amounts on the axis
_RIGHT = 8
_TOP = 16  # room above the highest gridline's label
_BOTTOM = 28  # room for the dates
_TICKS = 4


def nice_ceiling(highest: int) -> tuple[int, int]:
    """The axis top and the step between gridlines, in minor units: steps of 1, 2, 2.5 or 5 times a power of ten,
    so the labels read $0, $25, $50, $75, $100 rather than $0, $21.33, ..."""
    if highest <= 0:
        return _TICKS, 1
    rough = highest / _TICKS
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough)
    step = max(math.ceil(step), 1)
    return step * _TICKS, step


def _label_every(count: int) -> int:
    """How many days apart the date labels are: about seven labels whatever the range."""
    return max(1, math.ceil(count / 7))


_PLOT_WIDTH = WIDTH - _LEFT - _RIGHT
_PLOT_HEIGHT = HEIGHT - _TOP - _BOTTOM
_BASELINE = HEIGHT - _BOTTOM


def _slot(count: int) -> float:
    """The width of one bar's column."""
    return _PLOT_WIDTH / max(count, 1)


def _opening(kind: str, label: str) -> list[str]:
    """The chart's <svg>, its accessible name, and the start of the (hidden) grid group."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart chart-{kind}" '
        f'role="group" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        '<g class="grid" aria-hidden="true">',
    ]


def _bars(bars: Sequence[tuple[float, str]], scale: float) -> str:
    """The bars group and the end of the chart: one focusable bar per (value, text read out and shown on hover),
    whose hit area is the whole column, so a thumb finds it even when the bar is short or empty."""
    slot = _slot(len(bars))
    width = max(min(slot * 0.72, 48), 1.0)
    parts = ['<g class="bars">']
    for index, (value, text) in enumerate(bars):
        height = max(value, 0) * scale
        x = _LEFT + index * slot + (slot - width) / 2
        parts.append(
            f'<g class="bar" tabindex="0" role="img" aria-label="{escape(text)}" data-tip="{escape(text)}">'
            f"<title>{escape(text)}</title>"
            f'<rect class="hit" x="{_LEFT + index * slot:.1f}" y="{_TOP}" width="{slot:.1f}" height="{_PLOT_HEIGHT}"/>'
            f'<rect class="fill" x="{x:.1f}" y="{_BASELINE - height:.1f}" width="{width:.1f}" height="{height:.1f}"/>'
            "</g>"
        )
    parts.append("</g></svg>")
    return "".join(parts)


def daily_revenue_svg(
    days: Sequence[DailyRevenue], currency: str, display: Display, *, title: str = "Revenue per day"
) -> str:
    """Bars of net revenue per day with amount gridlines and date labels."""
    highest = max((d.revenue for d in days), default=0)
    top, step = nice_ceiling(highest)
    scale = _PLOT_HEIGHT / top
    slot = _slot(len(days))
    total = sum(d.revenue for d in days)
    parts = _opening("revenue", f"{title}: {display.money(total, currency)} over {len(days)} days")
    for tick in range(_TICKS + 1):
        y = _BASELINE - tick * step * scale
        kind = "gridline axis" if tick == 0 else "gridline"
        parts.append(f'<line class="{kind}" x1="{_LEFT}" y1="{y:.1f}" x2="{WIDTH - _RIGHT}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(display.axis_money(tick * step, currency))}</text>"
        )
    every = _label_every(len(days))
    for index, day in enumerate(days):
        if index % every == 0:
            # Phones hide every other date (dashboard.css: .tick.alternate), where the labels are bigger.
            kind = "tick date alternate" if (index // every) % 2 else "tick date"
            # A label centred under its day, except a first label that would stick out to the left.
            anchor, x = (
                ("start", _LEFT + index * slot)
                if slot < 40 and index == 0
                else ("middle", _LEFT + (index + 0.5) * slot)
            )
            name = escape(display.day(day.day))
            parts.append(f'<text class="{kind}" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">{name}</text>')
    parts.append("</g>")
    bars = []
    for day in days:
        purchases = f"{day.purchases} purchase{'s' if day.purchases != 1 else ''}"
        bars.append((day.revenue, f"{display.long_day(day.day)}: {display.money(day.revenue, currency)}, {purchases}"))
    return "".join(parts) + _bars(bars, scale)


def labelled_bars_svg(title: str, bars: Sequence[tuple[str, float, str]], *, top: float | None = None) -> str:
    """Bars for the operator console: each (label under it, value, text read out and shown on hover); the axis
    runs from 0 to `top` (the highest value when None). Same rules as above: classes only, no style or script."""
    highest = top if top is not None else max((value for _, value, _ in bars), default=0.0)
    scale = _PLOT_HEIGHT / highest if highest > 0 else 0.0
    slot = _slot(len(bars))
    every = _label_every(len(bars))
    parts = _opening("operator", title)
    parts.append(f'<line class="gridline axis" x1="{_LEFT}" y1="{_BASELINE}" x2="{WIDTH - _RIGHT}" y2="{_BASELINE}"/>')
    for index, (label, _, _) in enumerate(bars):
        if index % every == 0:
            x = _LEFT + (index + 0.5) * slot
            parts.append(
                f'<text class="tick date" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</g>")
    return "".join(parts) + _bars([(value, text) for _, value, text in bars], scale)
