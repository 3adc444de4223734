"""The read side: report queries returning plain rows, always scoped to one account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, literal, select

from adapters.persistence import tables as t
from core.domain.attribution import Model
from core.domain.purchases import AttributionStatus
from core.domain.reports import SourceTotals, UnmatchedTotals


def _in_range(column: Any, since: datetime | None, until: datetime) -> Any:
    return and_(column >= since, column < until) if since is not None else column < until


def _net_amount() -> Any:
    refunded = (
        select(func.coalesce(func.sum(t.refunds.c.amount), 0))
        .where(t.refunds.c.purchase_id == t.purchases.c.id)
        .scalar_subquery()
    )
    return t.purchases.c.amount - refunded


def _buyer() -> Any:
    # A student is a distinct buyer: by email, or by visitor when the platform gave no email.
    return func.coalesce(t.purchases.c.email, literal("visitor:") + func.cast(t.purchases.c.visitor_id, t.String))


class SqlReportQueries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def currencies(self, account_id: int) -> list[str]:
        query = (
            select(t.purchases.c.currency)
            .where(t.purchases.c.user_id == account_id)
            .group_by(t.purchases.c.currency)
            .order_by(func.sum(t.purchases.c.amount).desc(), t.purchases.c.currency)
        )
        with self._engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def _visitor_counts(self, account_id: int, model: Model, since: datetime | None, until: datetime) -> Any:
        if model is Model.FIRST_TOUCH:
            v = t.visitors.c
            return (
                select(v.first_touch_source, v.first_touch_channel, func.count())
                .where(v.user_id == account_id, _in_range(v.first_touch_at, since, until))
                .group_by(v.first_touch_source, v.first_touch_channel)
            )
        s = t.sessions.c
        return (
            select(s.source, s.channel, func.count(func.distinct(s.visitor_id)))
            .where(s.user_id == account_id, _in_range(s.started_at, since, until))
            .group_by(s.source, s.channel)
        )

    def source_totals(
        self, account_id: int, *, model: Model, currency: str, since: datetime | None, until: datetime
    ) -> list[SourceTotals]:
        p, a = t.purchases.c, t.attributions.c
        revenue = (
            select(
                a.touch_source,
                a.touch_channel,
                func.sum(_net_amount()),
                func.count(func.distinct(_buyer())),
                func.count(),
            )
            .select_from(t.purchases.join(t.attributions, a.purchase_id == p.id))
            .where(
                p.user_id == account_id,
                p.currency == currency,
                p.attribution_status == AttributionStatus.MATCHED.value,
                a.model == model.value,
                _in_range(p.purchased_at, since, until),
            )
            .group_by(a.touch_source, a.touch_channel)
        )
        rows: dict[tuple[str, str], list[int]] = {}
        with self._engine.connect() as connection:
            for source, channel, visitors in connection.execute(self._visitor_counts(account_id, model, since, until)):
                rows[(source, channel)] = [visitors, 0, 0, 0]
            for source, channel, amount, students, count in connection.execute(revenue):
                rows.setdefault((source, channel), [0, 0, 0, 0])[1:] = [int(amount), students, count]
        return [
            SourceTotals(source=source, channel=channel, visitors=v, revenue=r, students=s, purchases=n)
            for (source, channel), (v, r, s, n) in rows.items()
        ]

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
