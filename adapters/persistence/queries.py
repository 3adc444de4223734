"""The read side: report queries returning plain rows, always scoped to one account.

Visitors come from the per-day counts in `visitor_counts` (a few thousand rows per account, whatever the
traffic); revenue comes from purchases and their stored credits, which are orders of magnitude fewer than
events. Nothing here loads a domain aggregate.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, case, exists, func, literal, or_, select

from adapters.persistence import tables as t
from adapters.persistence.repositories import touch_from
from core.domain.attribution import Model
from core.domain.purchases import AttributionStatus
from core.domain.reports import (
    Breakdown,
    DailyRevenue,
    Grouping,
    PurchaseRow,
    SessionRow,
    SourceTotals,
    UnmatchedTotals,
)
from core.domain.sources import Channel
from core.domain.touches import Touch
from core.domain.visitor_counts import Dimension

_TOUCH_COLUMNS = (
    "source",
    "channel",
    "medium",
    "campaign",
    "term",
    "content",
    "referrer_host",
    "landing_page",
    "click_id",
    "at",
)
_BREAKDOWN_DIMENSIONS = {
    Breakdown.MEDIUM: Dimension.SOURCE_MEDIUM,
    Breakdown.CAMPAIGN: Dimension.SOURCE_CAMPAIGN,
    Breakdown.LANDING_PAGE: Dimension.SOURCE_LANDING_PAGE,
}


def _in_range(column: Any, since: datetime | None, until: datetime | None) -> Any:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return and_(*conditions) if conditions else literal(True)


def _refunded() -> Any:
    return (
        select(func.coalesce(func.sum(t.refunds.c.amount), 0))
        .where(t.refunds.c.purchase_id == t.purchases.c.id)
        .scalar_subquery()
    )


def _net_amount() -> Any:
    return t.purchases.c.amount - _refunded()


def _buyer() -> Any:
    # A student is a distinct buyer: by email, or by visitor when the platform gave no email.
    return func.coalesce(t.purchases.c.email, literal("visitor:") + func.cast(t.purchases.c.visitor_id, t.String))


class SqlReportQueries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    # --- dialect differences ------------------------------------------------------------------------

    def _utc_day(self, column: Any) -> Any:
        if self._postgres:
            return func.date(func.timezone("UTC", column))
        return func.date(column)  # SQLite keeps naive UTC text

    def _landing_path(self, column: Any) -> Any:
        """landing_path() of core.domain.reports, in SQL: the URL up to its query, 300 characters at most."""
        if self._postgres:
            return func.left(func.split_part(func.coalesce(column, ""), "?", 1), 300)
        text = func.coalesce(column, "")
        at = func.instr(text, "?")
        return func.substr(case((at > 0, func.substr(text, 1, at - 1)), else_=text), 1, 300)

    @staticmethod
    def _day(value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    # --- queries ------------------------------------------------------------------------------------

    def currencies(self, account_id: int) -> list[str]:
        query = (
            select(t.purchases.c.currency)
            .where(t.purchases.c.user_id == account_id)
            .group_by(t.purchases.c.currency)
            .order_by(func.sum(t.purchases.c.amount).desc(), t.purchases.c.currency)
        )
        with self._engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def _visitors(
        self, account_id: int, model: Model, dimension: Dimension, since: datetime | None, source: str | None = None
    ) -> Any:
        """(label, channel, visitors) from the per-day counts."""
        c = t.visitor_counts.c
        label, channel = {
            Dimension.SOURCE: (c.source, c.channel),
            Dimension.CHANNEL: (c.channel, c.channel),
        }.get(dimension, (c.value, literal("")))
        conditions = [c.user_id == account_id, c.model == model.value, c.dimension == dimension.value]
        if source is not None:
            conditions.append(c.source == source)
        if since is not None:
            conditions.append(c.day >= since.date())
        total = func.sum(c.visitors)
        return select(label, channel, total).where(*conditions).group_by(label, channel).having(total > 0)

    def _revenue(
        self,
        account_id: int,
        model: Model,
        currency: str,
        since: datetime | None,
        until: datetime,
        label: Any,
        channel: Any,
        *extra: Any,
    ) -> Any:
        """(label, channel, revenue, students, purchases) of the matched purchases the model credits."""
        p, a = t.purchases.c, t.attributions.c
        return (
            select(label, channel, func.sum(_net_amount()), func.count(func.distinct(_buyer())), func.count())
            .select_from(t.purchases.join(t.attributions, a.purchase_id == p.id))
            .where(
                p.user_id == account_id,
                p.currency == currency,
                p.attribution_status == AttributionStatus.MATCHED.value,
                a.model == model.value,
                _in_range(p.purchased_at, since, until),
                *extra,
            )
            .group_by(label, channel)
        )

    def _merge(self, visitors: Any, revenue: Any) -> list[SourceTotals]:
        rows: dict[tuple[str, str], list[int]] = {}
        with self._engine.connect() as connection:
            for label, channel, count in connection.execute(visitors):
                rows[(label or "", channel or "")] = [int(count), 0, 0, 0]
            for label, channel, amount, students, purchases in connection.execute(revenue):
                rows.setdefault((label or "", channel or ""), [0, 0, 0, 0])[1:] = [int(amount), students, purchases]
        return [
            SourceTotals(source=label, channel=channel, visitors=v, revenue=r, students=s, purchases=n)
            for (label, channel), (v, r, s, n) in rows.items()
        ]

    def source_totals(
        self,
        account_id: int,
        *,
        model: Model,
        currency: str,
        since: datetime | None,
        until: datetime,
        group: Grouping = Grouping.SOURCE,
    ) -> list[SourceTotals]:
        a = t.attributions.c
        label, channel, dimension = {
            Grouping.SOURCE: (a.touch_source, a.touch_channel, Dimension.SOURCE),
            Grouping.CHANNEL: (a.touch_channel, a.touch_channel, Dimension.CHANNEL),
            Grouping.CAMPAIGN: (func.coalesce(a.touch_campaign, ""), literal(""), Dimension.CAMPAIGN),
        }[group]
        return self._merge(
            self._visitors(account_id, model, dimension, since),
            self._revenue(account_id, model, currency, since, until, label, channel),
        )

    def breakdown_totals(
        self,
        account_id: int,
        *,
        source: str,
        breakdown: Breakdown,
        model: Model,
        currency: str,
        since: datetime | None,
        until: datetime,
    ) -> list[SourceTotals]:
        a = t.attributions.c
        label = {
            Breakdown.MEDIUM: func.coalesce(a.touch_medium, ""),
            Breakdown.CAMPAIGN: func.coalesce(a.touch_campaign, ""),
            Breakdown.LANDING_PAGE: self._landing_path(a.touch_landing_page),
        }[breakdown]
        return self._merge(
            self._visitors(account_id, model, _BREAKDOWN_DIMENSIONS[breakdown], since, source),
            self._revenue(account_id, model, currency, since, until, label, literal(""), a.touch_source == source),
        )

    def unmatched_totals(
        self, account_id: int, *, currency: str, since: datetime | None, until: datetime
    ) -> UnmatchedTotals:
        p = t.purchases.c
        query = select(func.coalesce(func.sum(_net_amount()), 0), func.count()).where(
            p.user_id == account_id,
            p.currency == currency,
            p.attribution_status == AttributionStatus.UNMATCHED.value,
            _in_range(p.purchased_at, since, until),
        )
        with self._engine.connect() as connection:
            revenue, purchases = connection.execute(query).one()
        return UnmatchedTotals(revenue=int(revenue), purchases=purchases)

    def daily_revenue(
        self, account_id: int, *, currency: str, since: datetime | None, until: datetime
    ) -> list[DailyRevenue]:
        p = t.purchases.c
        day = self._utc_day(p.purchased_at).label("day")
        matched = func.sum(case((p.attribution_status == AttributionStatus.MATCHED.value, 1), else_=0))
        query = (
            select(day, func.sum(_net_amount()), func.count(), matched)
            .where(p.user_id == account_id, p.currency == currency, _in_range(p.purchased_at, since, until))
            .group_by(day)
            .order_by(day)
        )
        with self._engine.connect() as connection:
            return [
                DailyRevenue(self._day(d), int(revenue), int(count), int(hits))
                for d, revenue, count, hits in connection.execute(query)
            ]

    def has_source(self, account_id: int, source: str) -> bool:
        c, p, a = t.visitor_counts.c, t.purchases.c, t.attributions.c
        visited = exists().where(
            c.user_id == account_id,
            c.model == Model.LAST_TOUCH.value,
            c.dimension == Dimension.SOURCE_MEDIUM.value,
            c.source == source,
        )
        credited = exists().where(
            a.model.in_([m.value for m in Model]),
            a.touch_source == source,
            a.purchase_id == p.id,
            p.user_id == account_id,
        )
        with self._engine.connect() as connection:
            return bool(connection.execute(select(or_(visited, credited))).scalar())

    # --- purchases ----------------------------------------------------------------------------------

    def _purchase_query(self) -> Any:
        p = t.purchases.c
        credits = {model: t.attributions.alias(f"{model.value}_credit") for model in Model}
        touch_columns = [
            credits[model].c[f"touch_{name}"].label(f"{model.value}_{name}")
            for model in Model
            for name in _TOUCH_COLUMNS
        ]
        joined = t.purchases
        for model, credit in credits.items():
            joined = joined.outerjoin(credit, and_(credit.c.purchase_id == p.id, credit.c.model == model.value))
        query = select(
            p.id,
            p.platform,
            p.platform_purchase_id,
            p.email,
            p.course_name,
            p.amount,
            _refunded().label("refunded"),
            p.currency,
            p.purchased_at,
            p.attribution_status,
            p.match_method,
            *touch_columns,
        ).select_from(joined)
        return query, credits

    @staticmethod
    def _purchase_row(row: Any) -> PurchaseRow:
        m = row._mapping
        return PurchaseRow(
            id=m["id"],
            platform=m["platform"],
            platform_purchase_id=m["platform_purchase_id"],
            email=m["email"],
            course_name=m["course_name"],
            amount=int(m["amount"]),
            refunded=int(m["refunded"]),
            currency=m["currency"],
            purchased_at=m["purchased_at"],
            status=m["attribution_status"],
            match_method=m["match_method"],
            first_touch=touch_from(m, Model.FIRST_TOUCH.value),
            last_touch=touch_from(m, Model.LAST_TOUCH.value),
        )

    def purchases(
        self,
        account_id: int,
        *,
        limit: int,
        credited_to: tuple[Model, str] | None = None,
        currency: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PurchaseRow]:
        p = t.purchases.c
        query, credits = self._purchase_query()
        conditions = [p.user_id == account_id, _in_range(p.purchased_at, since, until)]
        if currency is not None:
            conditions.append(p.currency == currency)
        if credited_to is not None:
            model, source = credited_to
            conditions += [
                p.attribution_status == AttributionStatus.MATCHED.value,
                credits[model].c.touch_source == source,
            ]
        query = query.where(*conditions).order_by(p.purchased_at.desc(), p.id.desc()).limit(limit)
        with self._engine.connect() as connection:
            return [self._purchase_row(row) for row in connection.execute(query)]

    def purchase(self, account_id: int, purchase_id: int) -> PurchaseRow | None:
        p = t.purchases.c
        query, _ = self._purchase_query()
        with self._engine.connect() as connection:
            row = connection.execute(query.where(p.user_id == account_id, p.id == purchase_id)).first()
        return self._purchase_row(row) if row is not None else None

    def buyer_sessions(self, account_id: int, purchase_id: int) -> list[SessionRow]:
        p, v, s = t.purchases.c, t.visitors.c, t.sessions.c
        with self._engine.connect() as connection:
            bought = connection.execute(
                select(p.visitor_id, p.email).where(p.user_id == account_id, p.id == purchase_id)
            ).first()
            if bought is None:
                return []
            browsers = [v.id == bought.visitor_id] if bought.visitor_id is not None else []
            if bought.email:
                browsers.append(v.email == bought.email)
            if not browsers:
                return []
            query = (
                select(s, v.visitor_key)
                .select_from(t.sessions.join(t.visitors, v.id == s.visitor_id))
                .where(v.user_id == account_id, s.user_id == account_id, or_(*browsers))
                .order_by(s.started_at, s.id)
            )
            return [
                SessionRow(
                    id=row.id,
                    visitor_key=row.visitor_key,
                    started_at=row.started_at,
                    last_seen_at=row.last_seen_at,
                    touch=Touch(
                        source=row.source,
                        channel=Channel(row.channel),
                        occurred_at=row.started_at,
                        medium=row.medium,
                        campaign=row.campaign,
                        term=row.term,
                        content=row.content,
                        referrer_host=row.referrer_host,
                        landing_page=row.landing_page,
                        click_id=row.click_id,
                    ),
                )
                for row in connection.execute(query)
            ]
