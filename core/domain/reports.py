"""The reports' rows and the ratios derived from them: revenue by source, its drill-down, the summary.

docs/metrics.md defines every number in words; the functions here are those definitions in code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from core.domain.purchases import UnmatchedReason
from core.domain.touches import Touch


class ReportRange(StrEnum):
    LAST_7_DAYS = "7d"
    LAST_30_DAYS = "30d"
    LAST_90_DAYS = "90d"
    ALL_TIME = "all"

    @property
    def days(self) -> int | None:
        return {"7d": 7, "30d": 30, "90d": 90}.get(self.value)

    def since(self, now: datetime) -> datetime | None:
        """The start of the range: midnight UTC of its first day. "Last 7 days" is today and the six
        days before it, so every day in a chart is whole and visitor counts can be kept per day."""
        if self.days is None:
            return None
        first_day = now.astimezone(UTC).date() - timedelta(days=self.days - 1)
        return start_of(first_day)

    def previous(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The period of equal length just before this one, for the trend; None for all time."""
        since = self.since(now)
        if since is None or self.days is None:
            return None
        return since - timedelta(days=self.days), since

    def until(self, now: datetime) -> datetime:
        """The end of the range (excluded): every preset range ends now."""
        return now


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CustomRange:
    """A range of whole UTC days chosen by the creator, `first` to `last` included (a future part is cut at
    now). It answers what a ReportRange answers, so every report takes either."""

    first: date
    last: date
    value = "custom"

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError("a range's first day comes before its last")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def since(self, now: datetime) -> datetime:
        return start_of(self.first)

    def until(self, now: datetime) -> datetime:
        if self.last >= now.astimezone(UTC).date():
            return now
        return start_of(self.last + timedelta(days=1))

    def previous(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The same number of days just before; None when the calendar has no room for it (year 1)."""
        since = self.since(now)
        if self.first.toordinal() <= self.days:
            return None
        return since - timedelta(days=self.days), since


Period = ReportRange | CustomRange
LONGEST_CUSTOM_RANGE = 3660  # days: ten years of daily bars is already more than a chart can show


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
DAY_FORMAT_PROBLEM = "from and to are days written YYYY-MM-DD"


def parse_day(text: str) -> date:
    """A day written YYYY-MM-DD, and only so: Python also reads 20261101 and 2026-W44-1 as dates, which the
    API's document (format: date) and a reader of the address would not expect. Raises ValueError."""
    if not _DAY.fullmatch(text):
        raise ValueError(DAY_FORMAT_PROBLEM)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(DAY_FORMAT_PROBLEM) from None


def parse_period(value: str, first: str | None = None, last: str | None = None) -> Period:
    """A preset range ("7d"...), or "custom" with its first and last days as YYYY-MM-DD (in either order).

    A custom range missing one end is the 30 days from or up to the other; missing both, the last 30 days; one
    longer than LONGEST_CUSTOM_RANGE keeps its last days. Raises ValueError, with a sentence saying what is
    allowed, for an unknown range or a day that is not a date."""
    if value != CustomRange.value:
        try:
            return ReportRange(value)
        except ValueError:
            allowed = ", ".join([*(r.value for r in ReportRange), CustomRange.value])
            raise ValueError(f"range must be one of {allowed}") from None
    start, end = (parse_day(day) if day else None for day in (first, last))
    if start is None and end is None:
        return ReportRange.LAST_30_DAYS
    if start is None or end is None:
        given = start or end
        assert given is not None
        other = given.toordinal() + (29 if start is not None else -29)
        start, end = given, date.fromordinal(min(max(other, 1), date.max.toordinal()))
    start, end = sorted([start, end])
    earliest = date.fromordinal(max(end.toordinal() - LONGEST_CUSTOM_RANGE + 1, 1))
    return CustomRange(max(start, earliest), end)


class Grouping(StrEnum):
    """What the rows of the revenue report are."""

    SOURCE = "source"
    CHANNEL = "channel"
    CAMPAIGN = "campaign"


class Breakdown(StrEnum):
    """The tables of one source's drill-down."""

    MEDIUM = "medium"
    CAMPAIGN = "campaign"
    LANDING_PAGE = "landing_page"
    TAGGED = "tagged"  # the raw utm_source values the source was named from ("yt", "YouTube")


# What a row is called when the touches it groups carried no value (a link with no utm_campaign).
NO_VALUE_LABELS = {
    Grouping.CAMPAIGN: "(no campaign)",
    Breakdown.MEDIUM: "(no medium)",
    Breakdown.CAMPAIGN: "(no campaign)",
    Breakdown.LANDING_PAGE: "(unknown page)",
    Breakdown.TAGGED: "(not tagged)",
}

UNMATCHED_LABEL = "Unmatched"


def landing_path(url: str | None) -> str:
    """A landing page without its query: the utm tags are already in the other columns."""
    if not url:
        return ""
    return url.split("?", 1)[0].split("#", 1)[0][:300]


@dataclass(frozen=True, slots=True)
class SourceTotals:
    """What the read side counts for one row; plain numbers, no aggregates loaded.

    `source` is the row's key: a source name, a channel name, a campaign, a medium or a landing page,
    depending on the grouping ("" when the touches carried none). `channel` is the source's channel when
    rows are sources or channels, "" otherwise.
    """

    source: str
    channel: str
    visitors: int
    revenue: int  # minor units, net of refunds
    students: int  # distinct buyers
    purchases: int


@dataclass(frozen=True, slots=True)
class SourceLine:
    totals: SourceTotals
    label: str  # what a person reads in the first column
    conversion_rate: float | None  # students / visitors, None when there were no visitors
    avg_order_value: int | None  # minor units, rounded half up
    revenue_per_visitor: int | None


@dataclass(frozen=True, slots=True)
class UnmatchedTotals:
    revenue: int
    purchases: int


def ratio(numerator: int, denominator: int) -> int | None:
    """numerator / denominator rounded half up, in integers (money stays integral); None over zero."""
    if denominator == 0:
        return None
    return (2 * numerator + denominator) // (2 * denominator)


def source_line(totals: SourceTotals, label: str | None = None) -> SourceLine:
    return SourceLine(
        totals=totals,
        label=label if label is not None else totals.source,
        conversion_rate=round(totals.students / totals.visitors, 4) if totals.visitors else None,
        avg_order_value=ratio(totals.revenue, totals.purchases),
        revenue_per_visitor=ratio(totals.revenue, totals.visitors),
    )


class SortColumn(StrEnum):
    SOURCE = "source"
    CHANNEL = "channel"
    VISITORS = "visitors"
    REVENUE = "revenue"
    STUDENTS = "students"
    PURCHASES = "purchases"
    CONVERSION_RATE = "conversion_rate"
    AVG_ORDER_VALUE = "avg_order_value"
    REVENUE_PER_VISITOR = "revenue_per_visitor"


_SORT_VALUE: dict[SortColumn, Callable[[SourceLine], Any]] = {
    SortColumn.SOURCE: lambda line: line.label.lower(),
    SortColumn.CHANNEL: lambda line: line.totals.channel.lower(),
    SortColumn.VISITORS: lambda line: line.totals.visitors,
    SortColumn.REVENUE: lambda line: line.totals.revenue,
    SortColumn.STUDENTS: lambda line: line.totals.students,
    SortColumn.PURCHASES: lambda line: line.totals.purchases,
    SortColumn.CONVERSION_RATE: lambda line: line.conversion_rate,
    SortColumn.AVG_ORDER_VALUE: lambda line: line.avg_order_value,
    SortColumn.REVENUE_PER_VISITOR: lambda line: line.revenue_per_visitor,
}


@dataclass(frozen=True, slots=True)
class SortOrder:
    column: SortColumn = SortColumn.REVENUE
    descending: bool = True

    @classmethod
    def parse(cls, text: str) -> SortOrder:
        """ "revenue" sorts ascending, "-revenue" descending; raises ValueError for an unknown column."""
        descending = text.startswith("-")
        return cls(SortColumn(text.removeprefix("-")), descending)

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.column.value


DEFAULT_SORT = SortOrder()


def sort_lines(lines: Iterable[SourceLine], order: SortOrder = DEFAULT_SORT) -> list[SourceLine]:
    """Lines in the asked order; rows without a value (no visitors, so no conversion) always go last, and
    ties keep the order a creator reads in: revenue, then visitors, then name."""
    reading_order = sorted(lines, key=lambda line: (-line.totals.revenue, -line.totals.visitors, line.label.lower()))
    value = _SORT_VALUE[order.column]
    present = [line for line in reading_order if value(line) is not None]
    missing = [line for line in reading_order if value(line) is None]
    return sorted(present, key=value, reverse=order.descending) + missing


def source_lines(
    rows: Sequence[SourceTotals], order: SortOrder = DEFAULT_SORT, labels: Grouping | Breakdown = Grouping.SOURCE
) -> list[SourceLine]:
    empty_label = NO_VALUE_LABELS.get(labels, "(none)")
    return sort_lines((source_line(row, row.source or empty_label) for row in rows), order)


# --- the summary --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyRevenue:
    """One UTC day's purchases in one currency: revenue net of refunds, counts, and how many matched."""

    day: date
    revenue: int
    purchases: int
    matched: int


@dataclass(frozen=True, slots=True)
class Summary:
    revenue: int
    purchases: int
    matched_purchases: int
    avg_order_value: int | None
    match_rate: float | None  # matched purchases / purchases
    previous_revenue: int | None  # the period of equal length before; None for all time
    trend_percent: float | None  # change against it; None for all time or when it had no revenue
    daily: list[DailyRevenue]  # every day of the range, zeros included
    previous_purchases: int | None = None  # purchases in the period before; None for all time

    @property
    def has_earlier_period(self) -> bool:
        """Whether there is anything to compare with: a previous period that had at least one purchase."""
        return bool(self.previous_purchases)


def top_line(lines: Iterable[SourceLine]) -> SourceLine | None:
    """The row that brought the most revenue (ties: more visitors, then the name); None when none earned."""
    earning = [line for line in lines if line.totals.revenue > 0]
    return min(
        earning, key=lambda line: (-line.totals.revenue, -line.totals.visitors, line.label.lower()), default=None
    )


def share(part: int, whole: int) -> float | None:
    """part / whole as a fraction rounded to 4 places (0.4595 is 45.95%); None when the whole is not positive."""
    return round(part / whole, 4) if whole > 0 else None


def trend_percent(current: int, previous: int | None) -> float | None:
    if previous is None or previous == 0:
        return None
    return round((current - previous) * 100 / abs(previous), 1)


def summarize(
    days: Sequence[DailyRevenue], *, since: datetime | None, until: datetime, previous_since: datetime | None
) -> Summary:
    """The summary of a range from per-day rows that may reach back into the previous period."""
    first_day = since.date() if since is not None else min((d.day for d in days), default=until.date())
    current = [d for d in days if d.day >= first_day]
    revenue = sum(d.revenue for d in current)
    purchases = sum(d.purchases for d in current)
    matched = sum(d.matched for d in current)
    previous = previous_purchases = None
    if previous_since is not None:
        before = [d for d in days if previous_since.date() <= d.day < first_day]
        previous = sum(d.revenue for d in before)
        previous_purchases = sum(d.purchases for d in before)
    by_day = {d.day: d for d in current}
    last_day = (until - timedelta(microseconds=1)).date()
    series = []
    day = first_day
    while day <= last_day:
        series.append(by_day.get(day, DailyRevenue(day, 0, 0, 0)))
        day += timedelta(days=1)
    return Summary(
        revenue=revenue,
        purchases=purchases,
        matched_purchases=matched,
        avg_order_value=ratio(revenue, purchases),
        match_rate=round(matched / purchases, 4) if purchases else None,
        previous_revenue=previous,
        trend_percent=trend_percent(revenue, previous),
        daily=series,
        previous_purchases=previous_purchases,
    )


# --- purchases as the reports show them ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurchaseRow:
    id: int
    platform: str
    platform_purchase_id: str
    email: str | None
    course_name: str | None
    amount: int  # minor units, as charged
    refunded: int  # minor units, given back since
    currency: str
    purchased_at: datetime
    status: str  # AttributionStatus value
    match_method: str | None  # MatchMethod value
    first_touch: Touch | None
    last_touch: Touch | None
    match_confidence: int | None = None  # percent, how sure the match is (docs/attribution.md)
    unmatched_code: str | None = None  # UnmatchedReason value; None for sales attributed before it was kept

    @property
    def net_amount(self) -> int:
        return self.amount - self.refunded

    @property
    def unmatched_reason(self) -> str | None:
        """Why no visit is linked to this purchase, in a creator's words; None when one is."""
        if self.status == "erased":
            return "The buyer asked to be erased: the sale still counts in the totals, with no person attached."
        if self.status != "unmatched":
            return None
        if self.unmatched_code == UnmatchedReason.TIE:
            return (
                "Several browsers reached checkout in the 30 minutes before this sale and none of them gave the "
                "buyer's email, so the timing cannot tell which one bought: it stays unmatched rather than guessing."
            )
        if self.unmatched_code == UnmatchedReason.NO_VISIT_IN_WINDOW:
            return (
                "This buyer is known on your site, but none of their visits falls before the purchase within the "
                "lookback window."
            )
        if self.email is None:
            return (
                "The platform sent no buyer email (and no visitor id), so no visit can be linked to this purchase. "
                "Ask buyers for an email at checkout, or pass the visitor id through checkout."
            )
        if self.unmatched_code == UnmatchedReason.NOT_SEEN:
            return (
                "No browser on your site gave this buyer's email, and none reached checkout in the 30 minutes "
                "before the sale. Asking for the email early (a free guide, a waitlist) links more sales."
            )
        return "No visit by this buyer was tracked before the purchase, within the lookback window."


@dataclass(frozen=True, slots=True)
class PurchaseSearch:
    """What the purchases page looks for; empty fields match everything."""

    email: str = ""  # a part of the buyer's email, any case
    source: str = ""  # the source of the first or the last touch, any case
    platform: str = ""  # csv, kajabi, teachable, stripe...
    since: datetime | None = None
    until: datetime | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.email or self.source or self.platform or self.since or self.until)


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One session of a buyer: which browser, when, and the touch that started it."""

    id: int
    visitor_key: str
    started_at: datetime
    last_seen_at: datetime
    touch: Touch


@dataclass(frozen=True, slots=True)
class ReferrerHost:
    """A referring host whose visits were filed under Referral: a place the source lists may not know yet."""

    host: str
    sessions: int
    visitors: int
    last_seen_at: datetime
