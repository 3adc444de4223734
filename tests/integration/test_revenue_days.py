"""The per-day revenue figures against the revenue lines they summarise, on random purchases.

Purchases are stored, credited, refunded, credited again, erased and renamed by source rules through the
repositories, in any order a random example picks; then (1) the figures the repositories kept step by step
equal a rebuild from the lines, and (2) every report read from the figures equals the same report read
from the lines, for preset and custom ranges, both models, every grouping and every drill-down table.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from adapters.persistence import tables as t
from adapters.persistence.database import create_database_engine
from adapters.persistence.queries import SqlReportQueries
from adapters.persistence.revenue_days import rebuild_revenue_days
from adapters.persistence.source_reports import Days
from adapters.persistence.unit_of_work import SqlUnitOfWork
from core.domain.attribution import RULES_VERSION, Credit, Model
from core.domain.money import Money
from core.domain.purchases import AttributionStatus, MatchMethod, Purchase, RefundRecord
from core.domain.reports import Breakdown, CustomRange, Grouping, Period, ReportRange
from core.domain.sites import Account
from core.domain.source_rules import SourceRule
from core.domain.sources import Channel
from core.domain.touches import Touch

START = datetime(2026, 3, 1, tzinfo=UTC)
NOW = START + timedelta(days=12, hours=13)  # purchases fall before and after it on its day
SOURCES = [
    ("YouTube", Channel.ORGANIC_VIDEO),
    ("YouTube", Channel.ORGANIC_SOCIAL),
    ("yt", Channel.ORGANIC_VIDEO),
    ("Google", Channel.ORGANIC_SEARCH),
]

touches = st.builds(
    lambda source, medium, campaign, page, tag: Touch(
        source=source[0],
        channel=source[1],
        occurred_at=START,
        medium=medium,
        campaign=campaign,
        landing_page=page,
        utm_source=tag,
    ),
    st.sampled_from(SOURCES),
    st.sampled_from([None, "video", "email"]),
    st.sampled_from([None, "launch", "tips"]),
    st.sampled_from([None, "https://example.com/", "https://example.com/course?x=1"]),
    st.sampled_from([None, "yt", "youtube"]),
)
purchases = st.fixed_dictionaries(
    {
        "buyer": st.sampled_from(["ana@example.com", "ben@example.com", None]),
        "day": st.sampled_from([0, 5, 9, 11, 12]),  # few days, so buyers often come back on another one
        "hour": st.sampled_from([1, 12, 14, 23]),  # on the last day, 14 and 23 are after NOW
        "amount": st.sampled_from([100, 4900, 9999]),
        "currency": st.sampled_from(["USD", "USD", "EUR"]),
        "credits": st.none() | st.tuples(touches, touches),
        "refund_percent": st.sampled_from([0, 0, 50, 100]),
        "later": st.sampled_from([None, None, "credit again", "erase"]),
        "again": st.tuples(touches, touches),
    }
)
rules = st.lists(
    st.tuples(
        st.sampled_from(["yt", "YouTube", "Google"]),
        st.sampled_from(["YouTube", "Google", "Search"]),
        st.sampled_from([None, Channel.ORGANIC_SOCIAL]),
    ),
    max_size=2,
    unique_by=lambda rule: rule[0],
).map(lambda found: [SourceRule(match, source, channel) for match, source, channel in found])
periods = st.one_of(
    st.sampled_from(list(ReportRange)),
    st.tuples(st.integers(-2, 14), st.integers(-2, 14)).map(
        lambda days: CustomRange(*sorted(START.date() + timedelta(days=d) for d in days))
    ),
)


class FromLines(SqlReportQueries):
    """The report queries reading the revenue lines for every range: what the figures must answer."""

    def _days(self, account_id: int, currency: str, since: datetime | None, until: datetime) -> Days | None:
        return None


def _credits(pair: tuple[Touch, Touch] | None) -> list[Credit]:
    if pair is None:
        return []
    return [Credit(Model.FIRST_TOUCH, pair[0], RULES_VERSION), Credit(Model.LAST_TOUCH, pair[1], RULES_VERSION)]


def _store(engine: Engine, examples: list[dict[str, Any]], rules: list[SourceRule], rules_first: bool) -> int:
    with SqlUnitOfWork(engine) as uow:
        account_id = uow.accounts.add(Account(email=f"{uuid.uuid4().hex}@example.com", created_at=START)).id
        assert account_id is not None
        if rules_first:
            uow.source_rules.replace(account_id, rules)
        stored = []
        for number, example in enumerate(examples):
            purchase = uow.purchases.add(
                Purchase(
                    account_id=account_id,
                    platform="csv",
                    platform_purchase_id=f"p{number}",
                    amount=Money(example["amount"], example["currency"]),
                    purchased_at=START + timedelta(days=example["day"], hours=example["hour"], minutes=number),
                    email=example["buyer"],
                    status=AttributionStatus.MATCHED if example["credits"] else AttributionStatus.UNMATCHED,
                    match_method=MatchMethod.EMAIL if example["credits"] else None,
                )
            )
            uow.purchases.replace_credits(purchase.id or 0, _credits(example["credits"]))
            if example["refund_percent"]:
                refund = RefundRecord(
                    "csv", f"p{number}", "r1", Money(example["amount"] * example["refund_percent"] // 100, "USD"), NOW
                )
                uow.purchases.add_refund(purchase.id or 0, refund)
            stored.append(purchase)
        for purchase, example in zip(stored, examples, strict=True):
            if example["later"] == "credit again" and example["credits"]:
                uow.purchases.replace_credits(purchase.id or 0, _credits(example["again"]))
            elif example["later"] == "erase":
                purchase.erase_buyer()
                uow.purchases.store_buyer_details(purchase)
                uow.purchases.replace_credits(purchase.id or 0, [])
        if not rules_first:
            uow.source_rules.replace(account_id, rules)
        uow.commit()
    return account_id


def _stored_days(engine: Engine, account_id: int) -> tuple[list[Any], list[Any]]:
    """The figures as kept, and as a rebuild from the lines makes them (rolled back)."""
    d = t.revenue_days
    query = select(d).where(d.c.user_id == account_id).order_by(*d.primary_key.columns)
    with engine.connect() as connection:
        kept = [tuple(row) for row in connection.execute(query)]
        rebuild_revenue_days(connection, account_id)
        rebuilt = [tuple(row) for row in connection.execute(query)]
        connection.rollback()
    return kept, rebuilt


def _every_report(queries: SqlReportQueries, account_id: int, period: Period, shown: list[str]) -> dict[str, Any]:
    since, until = period.since(NOW), period.until(NOW)
    answers: dict[str, Any] = {}
    for currency in ("USD", "EUR"):
        answers[f"unmatched {currency}"] = queries.unmatched_totals(
            account_id, currency=currency, since=since, until=until
        )
        answers[f"daily {currency}"] = queries.daily_revenue(account_id, currency=currency, since=since, until=until)
        for model in Model:
            for group in Grouping:
                rows = queries.source_totals(
                    account_id, model=model, currency=currency, since=since, until=until, group=group
                )
                answers[f"{group} {model} {currency}"] = sorted(rows, key=lambda row: row.source)
            for source in shown:
                for breakdown in Breakdown:
                    rows = queries.breakdown_totals(
                        account_id,
                        source=source,
                        breakdown=breakdown,
                        model=model,
                        currency=currency,
                        since=since,
                        until=until,
                    )
                    answers[f"{source} {breakdown} {model} {currency}"] = sorted(rows, key=lambda row: row.source)
    return answers


def _check(
    database_url: str, examples: list[dict[str, Any]], rules: list[SourceRule], rules_first: bool, period: Period
) -> None:
    engine = create_database_engine(database_url)
    try:
        account_id = _store(engine, examples, rules, rules_first)
        kept, rebuilt = _stored_days(engine, account_id)
        assert kept == rebuilt
        shown = sorted({"YouTube", "yt", "Google", "Search"})
        from_days = _every_report(SqlReportQueries(engine), account_id, period, shown)
        from_lines = _every_report(FromLines(engine), account_id, period, shown)
        assert from_days == from_lines
        r = t.revenue_lines.c
        with engine.connect() as connection:
            purchases_by_currency = connection.execute(
                select(r.currency).where(r.user_id == account_id, r.model == "purchase").order_by(r.currency)
            ).scalars()
            counted: dict[str, int] = {}
            for currency in purchases_by_currency:
                counted[currency] = counted.get(currency, 0) + 1
        expected = sorted(counted, key=lambda currency: (-counted[currency], currency))
        assert SqlReportQueries(engine).currencies(account_id) == expected
    finally:
        engine.dispose()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(purchases, min_size=3, max_size=12), rules, st.booleans(), periods)
def test_reports_from_the_per_day_figures_equal_reports_from_the_lines(
    database_url: str, examples: list[dict[str, Any]], rules: list[SourceRule], rules_first: bool, period: Period
) -> None:
    _check(database_url, examples, rules, rules_first, period)


def test_a_buyer_who_bought_on_two_days_is_one_student_of_a_range_holding_both(database_url: str) -> None:
    youtube = (
        Touch(source="YouTube", channel=Channel.ORGANIC_VIDEO, occurred_at=START),
        Touch(source="YouTube", channel=Channel.ORGANIC_VIDEO, occurred_at=START),
    )
    bought = {"currency": "USD", "amount": 4900, "credits": youtube, "refund_percent": 0, "later": None}
    examples = [{**bought, "buyer": "ana@example.com", "day": day, "hour": 2, "again": youtube} for day in (0, 2, 4)]
    engine = create_database_engine(database_url)
    try:
        account_id = _store(engine, examples, [], True)
        queries = SqlReportQueries(engine)
        since = START + timedelta(days=1)
        [row] = queries.source_totals(
            account_id, model=Model.LAST_TOUCH, currency="USD", since=since, until=NOW, group=Grouping.SOURCE
        )
        assert (row.revenue, row.purchases, row.students) == (9800, 2, 1)
        assert queries._days(account_id, "USD", since, NOW) == (date(2026, 3, 2), NOW.date())
    finally:
        engine.dispose()
