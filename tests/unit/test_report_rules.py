"""The report rules: visitor counts per day, sorting, the summary's arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.attribution import Model
from core.domain.channels import Channel
from core.domain.reports import (
    DailyRevenue,
    Grouping,
    SortColumn,
    SortOrder,
    SourceTotals,
    landing_path,
    source_lines,
    summarize,
    trend_percent,
)
from core.domain.touches import Touch
from core.domain.visitor_counts import CountKey, Dimension, net_changes, replay_visitor, visitor_count_changes

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def touch(source: str, when: datetime, campaign: str | None = None, page: str = "https://example.com/") -> Touch:
    channel = Channel.DIRECT if source == "Direct" else Channel.ORGANIC_VIDEO
    return Touch(source=source, channel=channel, occurred_at=when, campaign=campaign, landing_page=page)


def source_counts(changes: dict, model: Model) -> dict[tuple[str, date], int]:  # type: ignore[type-arg]
    return {
        (key.source, day): n for (m, key, day), n in changes.items() if m is model and key.dimension is Dimension.SOURCE
    }


def test_a_first_visit_counts_once_under_each_model_in_every_dimension() -> None:
    changes = visitor_count_changes([], touch("YouTube", T0, "launch", "https://example.com/course?utm_source=yt"))
    assert {c.delta for c in changes} == {1}
    assert {(c.model, c.key.dimension) for c in changes} == {(m, d) for m in Model for d in Dimension}
    landing = next(c.key for c in changes if c.key.dimension is Dimension.SOURCE_LANDING_PAGE)
    assert landing == CountKey(Dimension.SOURCE_LANDING_PAGE, "YouTube", value="https://example.com/course")


def test_coming_back_moves_the_last_touch_count_to_the_later_day_only() -> None:
    first = touch("YouTube", T0)
    again = touch("YouTube", T0 + timedelta(days=3))
    net = net_changes(replay_visitor([first, again]))
    assert source_counts(net, Model.FIRST_TOUCH) == {("YouTube", T0.date()): 1}
    assert source_counts(net, Model.LAST_TOUCH) == {("YouTube", (T0 + timedelta(days=3)).date()): 1}


def test_a_second_source_adds_a_last_touch_visitor_but_not_a_first_touch_one() -> None:
    net = net_changes(replay_visitor([touch("YouTube", T0), touch("Direct", T0 + timedelta(days=1))]))
    assert source_counts(net, Model.FIRST_TOUCH) == {("YouTube", T0.date()): 1}
    assert source_counts(net, Model.LAST_TOUCH) == {
        ("YouTube", T0.date()): 1,
        ("Direct", (T0 + timedelta(days=1)).date()): 1,
    }


def test_a_late_arriving_earlier_touch_becomes_the_first_touch() -> None:
    later = touch("YouTube", T0 + timedelta(days=2))
    earlier = touch("Direct", T0)
    net = net_changes([*visitor_count_changes([], later), *visitor_count_changes([later], earlier)])
    assert source_counts(net, Model.FIRST_TOUCH) == {("Direct", T0.date()): 1}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["YouTube", "Direct", "Google"]), st.integers(0, 20 * 24), st.sampled_from([None, "a"])
        ),
        min_size=1,
        max_size=8,
    )
)
def test_counts_are_distinct_visitors_for_every_range_ending_now(visits) -> None:  # type: ignore[no-untyped-def]
    touches = [touch(source, T0 + timedelta(hours=hours), campaign) for source, hours, campaign in visits]
    net = net_changes(replay_visitor(touches))
    for first_day in [T0.date() + timedelta(days=n) for n in range(0, 22, 3)]:
        for source in ("YouTube", "Direct", "Google"):
            counted = sum(
                n for (s, day), n in source_counts(net, Model.LAST_TOUCH).items() if s == source and day >= first_day
            )
            came = any(t.source == source and t.occurred_at.date() >= first_day for t in touches)
            assert counted == int(came)
            first = min(touches, key=lambda t: t.occurred_at)
            counted_first = sum(
                n for (s, day), n in source_counts(net, Model.FIRST_TOUCH).items() if s == source and day >= first_day
            )
            assert counted_first == int(first.source == source and first.occurred_at.date() >= first_day)


def lines(order: str) -> list[str]:
    rows = [
        SourceTotals("YouTube", "Organic Video", 200, 800000, 3, 4),
        SourceTotals("Instagram", "Organic Social", 40, 40000, 1, 1),
        SourceTotals("Podcast", "Referral", 0, 9900, 1, 1),
    ]
    return [line.label for line in source_lines(rows, SortOrder.parse(order))]


def test_sorting_by_each_column_with_missing_values_last() -> None:
    assert lines("-revenue") == ["YouTube", "Instagram", "Podcast"]
    assert lines("revenue") == ["Podcast", "Instagram", "YouTube"]
    assert lines("-conversion_rate") == ["Instagram", "YouTube", "Podcast"]
    assert lines("conversion_rate") == ["YouTube", "Instagram", "Podcast"]
    assert lines("source") == ["Instagram", "Podcast", "YouTube"]
    assert str(SortOrder.parse("-visitors")) == "-visitors"
    assert {c.value for c in SortColumn} >= {"visitors", "revenue_per_visitor"}
    with pytest.raises(ValueError, match="price"):
        SortOrder.parse("price")


def test_empty_keys_get_a_label_a_person_understands() -> None:
    (line,) = source_lines([SourceTotals("", "", 3, 0, 0, 0)], labels=Grouping.CAMPAIGN)
    assert line.label == "(no campaign)"
    assert landing_path("https://example.com/course?utm_source=yt") == "https://example.com/course"


def test_summary_adds_up_days_and_compares_with_the_period_before() -> None:
    day = lambda n: date(2026, 11, n)  # noqa: E731
    days = [DailyRevenue(day(10), 4000, 1, 1), DailyRevenue(day(15), 3000, 2, 1), DailyRevenue(day(20), 2000, 1, 1)]
    since = datetime(2026, 11, 14, tzinfo=UTC)
    summary = summarize(
        days, since=since, until=datetime(2026, 11, 20, 12, tzinfo=UTC), previous_since=since - timedelta(7)
    )
    assert (summary.revenue, summary.purchases, summary.matched_purchases) == (5000, 3, 2)
    assert (summary.avg_order_value, summary.match_rate, summary.previous_revenue, summary.trend_percent) == (
        1667,
        0.6667,
        4000,
        25.0,
    )
    assert [d.revenue for d in summary.daily] == [0, 3000, 0, 0, 0, 0, 2000]
    assert trend_percent(100, 0) is None
    assert trend_percent(50, 200) == -75.0
