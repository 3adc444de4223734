"""Visitor counts kept per day as sessions arrive, so reports never count visitors row by row.

Who counts as a visitor of a source (docs/metrics.md):
- first touch: the visitors whose first touch came from it, on the day of that first touch;
- last touch: the visitors who arrived from it at least once in the range.

Both are kept as one number per (model, dimension, key, day) that reports add up over the days of a range.
For last touch a visitor is counted on the day of their latest arrival from the key, and moved forward when
they come back later. Because every range ends now, "latest arrival on or after the range's first day" is
exactly "arrived at least once in the range", so a sum over days stays a count of distinct visitors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from core.domain.attribution import Model
from core.domain.reports import landing_path
from core.domain.touches import Touch


class Dimension(StrEnum):
    SOURCE = "source"  # key: source and channel
    CHANNEL = "channel"  # key: channel
    CAMPAIGN = "campaign"  # key: campaign, across sources
    SOURCE_MEDIUM = "source_medium"  # key: source and medium (a source's drill-down)
    SOURCE_CAMPAIGN = "source_campaign"  # key: source and campaign
    SOURCE_LANDING_PAGE = "source_landing"  # key: source and landing page (without its query)
    SOURCE_TAGGED = "source_tagged"  # key: source and the raw utm_source value it was tagged with


@dataclass(frozen=True, slots=True)
class CountKey:
    dimension: Dimension
    source: str = ""
    channel: str = ""
    value: str = ""


@dataclass(frozen=True, slots=True)
class VisitorCountChange:
    model: Model
    key: CountKey
    day: date
    delta: int


def count_keys(touch: Touch) -> tuple[CountKey, ...]:
    """Every row a visitor arriving with `touch` counts in."""
    return (
        CountKey(Dimension.SOURCE, touch.source, touch.channel.value),
        CountKey(Dimension.CHANNEL, channel=touch.channel.value),
        CountKey(Dimension.CAMPAIGN, value=touch.campaign or ""),
        CountKey(Dimension.SOURCE_MEDIUM, touch.source, value=touch.medium or ""),
        CountKey(Dimension.SOURCE_CAMPAIGN, touch.source, value=touch.campaign or ""),
        CountKey(Dimension.SOURCE_LANDING_PAGE, touch.source, value=landing_path(touch.landing_page)),
        CountKey(Dimension.SOURCE_TAGGED, touch.source, value=touch.utm_source or ""),
    )


def _day(touch: Touch) -> date:
    return touch.occurred_at.date()


def _first(touches: Iterable[Touch]) -> Touch | None:
    return min(touches, key=lambda t: t.occurred_at, default=None)


def visitor_count_changes(earlier: Sequence[Touch], new: Touch) -> list[VisitorCountChange]:
    """What a visitor's new session changes in the counts, given the touches of their earlier sessions."""
    changes: list[VisitorCountChange] = []
    old_first = _first(earlier)
    new_first = _first([*earlier, new])
    if new_first is not old_first:
        if old_first is not None:
            changes += [VisitorCountChange(Model.FIRST_TOUCH, k, _day(old_first), -1) for k in count_keys(old_first)]
        changes += [VisitorCountChange(Model.FIRST_TOUCH, k, _day(new), 1) for k in count_keys(new)]
    latest_day: dict[CountKey, date] = {}
    for touch in earlier:
        for key in count_keys(touch):
            if key not in latest_day or _day(touch) > latest_day[key]:
                latest_day[key] = _day(touch)
    for key in count_keys(new):
        previous = latest_day.get(key)
        if previous is None:
            changes.append(VisitorCountChange(Model.LAST_TOUCH, key, _day(new), 1))
        elif previous < _day(new):
            changes.append(VisitorCountChange(Model.LAST_TOUCH, key, previous, -1))
            changes.append(VisitorCountChange(Model.LAST_TOUCH, key, _day(new), 1))
    return changes


def replay_visitor(touches: Sequence[Touch]) -> list[VisitorCountChange]:
    """The counts one visitor contributes, from all their sessions' touches: rebuilding a rollup from
    history gives what the incremental path gave."""
    ordered = sorted(touches, key=lambda t: t.occurred_at)
    changes: list[VisitorCountChange] = []
    for index, touch in enumerate(ordered):
        changes += visitor_count_changes(ordered[:index], touch)
    return changes


def net_changes(changes: Iterable[VisitorCountChange]) -> dict[tuple[Model, CountKey, date], int]:
    """Changes added up by row, dropping those that cancel out."""
    totals: dict[tuple[Model, CountKey, date], int] = {}
    for change in changes:
        row = (change.model, change.key, change.day)
        totals[row] = totals.get(row, 0) + change.delta
    return {row: delta for row, delta in totals.items() if delta}
