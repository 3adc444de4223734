"""Charts drawn on the server as SVG strings: no JavaScript, no third-party files, nothing a strict
Content-Security-Policy blocks (presentation attributes only, no style attributes, no scripts)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from core.domain.money import Money
from core.domain.reports import DailyRevenue

WIDTH = 640
HEIGHT = 180
_PAD_LEFT = 56
_PAD_BOTTOM = 22
_PAD_TOP = 10


def daily_revenue_svg(days: Sequence[DailyRevenue], currency: str, *, title: str = "Revenue per day") -> str:
    """Bars of net revenue per day, with the highest amount on the axis and the first and last dates below.

    Every bar carries a <title> (the date and the amount), which screen readers and a hover both show.
    """
    plot_width = WIDTH - _PAD_LEFT - 4
    plot_height = HEIGHT - _PAD_TOP - _PAD_BOTTOM
    highest = max((d.revenue for d in days), default=0)
    scale = plot_height / highest if highest > 0 else 0.0
    slot = plot_width / max(len(days), 1)
    bar = max(slot * 0.8, 1.0)
    total = sum(d.revenue for d in days)
    label = f"{title}: {Money(total, currency).display()} over {len(days)} days"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart chart-revenue" '
        f'role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{_PAD_LEFT}" y1="{HEIGHT - _PAD_BOTTOM}" x2="{WIDTH - 4}" y2="{HEIGHT - _PAD_BOTTOM}" '
        'stroke="currentColor" stroke-opacity="0.3"/>',
        f'<text x="{_PAD_LEFT - 6}" y="{_PAD_TOP + 10}" text-anchor="end" font-size="11" fill="currentColor">'
        f"{escape(Money(highest, currency).format_major(grouped=True))}</text>",
        f'<text x="{_PAD_LEFT - 6}" y="{HEIGHT - _PAD_BOTTOM}" text-anchor="end" font-size="11" '
        'fill="currentColor">0</text>',
    ]
    for index, day in enumerate(days):
        height = max(day.revenue, 0) * scale
        x = _PAD_LEFT + index * slot + (slot - bar) / 2
        y = HEIGHT - _PAD_BOTTOM - height
        amount = Money(day.revenue, currency).display()
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="currentColor">'
            f"<title>{day.day.isoformat()}: {escape(amount)}</title></rect>"
        )
    if days:
        baseline = HEIGHT - 6
        parts.append(
            f'<text x="{_PAD_LEFT}" y="{baseline}" font-size="11" fill="currentColor">{days[0].day.isoformat()}</text>'
        )
        parts.append(
            f'<text x="{WIDTH - 4}" y="{baseline}" text-anchor="end" font-size="11" fill="currentColor">'
            f"{days[-1].day.isoformat()}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
