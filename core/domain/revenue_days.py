"""Revenue, purchases and students per day, kept as purchases are credited, so a report adds up days.

A revenue line (adapters/persistence/revenue_lines.py) is one purchase under one model. Each line counts
under a few keys: the whole account for the lines of every purchase and of the unmatched ones, and for a
credited line its source, its source's channel, its channel, its campaign and the source's medium,
campaign, landing page and raw utm_source value. Sources and channels are the names the creator's source
rules show (docs/metrics.md), so two recorded sources shown as one count their buyers once.

Revenue and purchases add up over days. Students (distinct buyers) do not: a buyer who bought on two days
would count twice. So each day's figures are kept apart by `previous_day`, the last earlier day the same
buyer bought under the same key (NO_EARLIER_DAY for their first day, and for lines without a buyer). A
buyer's first day inside a range is the one whose previous day falls before the range, so the students of
a range are the students of its days whose previous day comes before its first day: exactly one day per
buyer, for any range of whole days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from core.domain.attribution import Model
from core.domain.source_rules import SourceRule

NO_EARLIER_DAY = date(1, 1, 1)
_CREDITING_MODELS = frozenset(model.value for model in Model)


class RevenueDimension(StrEnum):
    TOTAL = "total"  # key: none (the lines of every purchase, and of the unmatched ones)
    SOURCE = "source"  # key: the source as shown
    SOURCE_CHANNEL = "source_channel"  # key: the source and the channel its revenue came through
    CHANNEL = "channel"  # key: the channel as shown
    CAMPAIGN = "campaign"  # key: the campaign, across sources
    SOURCE_MEDIUM = "source_medium"  # key: the source and the medium (a source's drill-down)
    SOURCE_CAMPAIGN = "source_campaign"
    SOURCE_LANDING_PAGE = "source_landing"
    SOURCE_TAGGED = "source_tagged"  # key: the source and the raw utm_source value it was tagged with


@dataclass(frozen=True, slots=True, order=True)
class DayKey:
    """One row of the per-day figures: a model's lines in one currency, under one key, on one day."""

    model: str  # a Model value, or the model of the lines of every purchase / the unmatched ones
    currency: str
    dimension: RevenueDimension
    source: str
    value: str
    day: date
    previous_day: date = NO_EARLIER_DAY


@dataclass(frozen=True, slots=True)
class DayFigures:
    revenue: int = 0  # minor units, net of refunds
    purchases: int = 0
    matched: int = 0  # purchases matched to a visit
    students: int = 0  # buyers whose previous day under the key is the key's previous_day

    def __add__(self, other: DayFigures) -> DayFigures:
        return DayFigures(
            self.revenue + other.revenue,
            self.purchases + other.purchases,
            self.matched + other.matched,
            self.students + other.students,
        )

    def __neg__(self) -> DayFigures:
        return DayFigures(-self.revenue, -self.purchases, -self.matched, -self.students)

    def __bool__(self) -> bool:
        return any((self.revenue, self.purchases, self.matched, self.students))


def line_keys(line: Mapping[str, Any], rules: Mapping[str, SourceRule]) -> list[tuple[RevenueDimension, str, str]]:
    """The (dimension, source, value) keys a revenue line counts under, with the account's rules by `match`."""
    if line["model"] not in _CREDITING_MODELS:
        return [(RevenueDimension.TOTAL, "", "")]
    recorded = line["source"] or ""
    rule = rules.get(recorded)
    source = rule.source if rule is not None else recorded
    channel = (rule.channel.value if rule is not None and rule.channel is not None else line["channel"]) or ""
    return [
        (RevenueDimension.SOURCE, source, ""),
        (RevenueDimension.SOURCE_CHANNEL, source, channel),
        (RevenueDimension.CHANNEL, "", channel),
        (RevenueDimension.CAMPAIGN, "", line["campaign"] or ""),
        (RevenueDimension.SOURCE_MEDIUM, source, line["medium"] or ""),
        (RevenueDimension.SOURCE_CAMPAIGN, source, line["campaign"] or ""),
        (RevenueDimension.SOURCE_LANDING_PAGE, source, line["landing_path"] or ""),
        (RevenueDimension.SOURCE_TAGGED, source, line["utm_source"] or ""),
    ]


def day_figures(lines: Iterable[Mapping[str, Any]], rules: Iterable[SourceRule]) -> dict[DayKey, DayFigures]:
    """The per-day figures of `lines`, which hold every line of each buyer they name (and any lines without
    a buyer): a buyer's previous day is read from their own lines."""
    by_match = {rule.match: rule for rule in rules}
    found: dict[DayKey, DayFigures] = {}
    # (model, currency, dimension, source, value, buyer) -> day -> figures of the buyer's lines that day
    buyers: dict[tuple[Any, ...], dict[date, DayFigures]] = {}
    for line in lines:
        figures = DayFigures(int(line["net_amount"]), 1, int(bool(line["matched"])), 0)
        for dimension, source, value in line_keys(line, by_match):
            if line["buyer"] is None:
                key = DayKey(line["model"], line["currency"], dimension, source, value, line["day"])
                found[key] = found.get(key, DayFigures()) + figures
                continue
            days = buyers.setdefault((line["model"], line["currency"], dimension, source, value, line["buyer"]), {})
            days[line["day"]] = days.get(line["day"], DayFigures(students=1)) + figures
    for (model, currency, dimension, source, value, _buyer), days in buyers.items():
        previous = NO_EARLIER_DAY
        for day in sorted(days):
            key = DayKey(model, currency, dimension, source, value, day, previous)
            found[key] = found.get(key, DayFigures()) + days[day]
            previous = day
    return found


def difference(before: Mapping[DayKey, DayFigures], after: Mapping[DayKey, DayFigures]) -> dict[DayKey, DayFigures]:
    """What to add to the stored figures to go from `before` to `after` (changes only)."""
    changes = {key: figures + -before.get(key, DayFigures()) for key, figures in after.items()}
    changes.update({key: -figures for key, figures in before.items() if key not in after})
    return {key: figures for key, figures in changes.items() if figures}


def add_figures(into: dict[DayKey, DayFigures], more: Mapping[DayKey, DayFigures]) -> None:
    for key, figures in more.items():
        into[key] = into.get(key, DayFigures()) + figures
