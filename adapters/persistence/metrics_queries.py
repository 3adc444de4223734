"""The operator's read side: plain rows across all accounts for the business metrics (core/services/metrics.py).

Unlike queries.py these are not scoped to one account: only the operator console and `coursesignal metrics`
read them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, Engine, cast, func, select

from adapters.persistence import tables as t
from core.domain.metrics import AccountFacts, ConnectionAttempt, FailedDeliveries, StatusChange
from core.domain.purchases import AttributionStatus


class SqlMetricsQueries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def accounts(self) -> list[AccountFacts]:
        u, b = t.users.c, t.billing_subscriptions.c
        statement = (
            select(
                u.id,
                u.email,
                u.created_at,
                u.email_verified_at,
                u.trial_ends_at,
                u.operator_since,
                b.stripe_status,
                b.cancel_at_period_end,
                b.current_period_end,
                b.failed_payment_attempts,
                b.next_payment_attempt_at,
            )
            .select_from(t.users.outerjoin(t.billing_subscriptions, b.user_id == u.id))
            .order_by(u.created_at, u.id)
        )
        with self._engine.connect() as connection:
            return [
                AccountFacts(
                    account_id=row.id,
                    email=row.email,
                    created_at=row.created_at,
                    email_verified_at=row.email_verified_at,
                    trial_ends_at=row.trial_ends_at,
                    operator_since=row.operator_since,
                    stripe_status=row.stripe_status,
                    cancel_at_period_end=bool(row.cancel_at_period_end),
                    current_period_end=row.current_period_end,
                    failed_payment_attempts=row.failed_payment_attempts or 0,
                    next_payment_attempt=row.next_payment_attempt_at,
                )
                for row in connection.execute(statement)
            ]

    def status_changes(self) -> list[StatusChange]:
        c = t.billing_status_changes.c
        statement = select(c.user_id, c.stripe_status, c.changed_at).order_by(c.changed_at, c.id)
        with self._engine.connect() as connection:
            return [
                StatusChange(row.user_id, row.stripe_status, row.changed_at) for row in connection.execute(statement)
            ]

    def connection_attempts(self) -> list[ConnectionAttempt]:
        c = t.connection_attempts.c
        statement = select(c.user_id, c.platform, c.attempted_at, c.error).order_by(c.attempted_at, c.id)
        with self._engine.connect() as connection:
            return [
                ConnectionAttempt(row.user_id, row.platform, row.attempted_at, row.error)
                for row in connection.execute(statement)
            ]

    def first_events(self) -> dict[int, datetime]:
        e, s = t.events.c, t.sites.c
        statement = (
            select(s.user_id, func.min(e.occurred_at).label("first"))
            .select_from(t.events.join(t.sites, s.id == e.site_id))
            .group_by(s.user_id)
        )
        return self._moments(statement)

    def first_attributed_sales(self) -> dict[int, datetime]:
        p, u = t.purchases.c, t.users.c
        statement = (
            select(p.user_id, func.min(p.purchased_at).label("first"))
            .select_from(t.purchases.join(t.users, u.id == p.user_id))
            .where(p.attribution_status == AttributionStatus.MATCHED.value, p.purchased_at >= u.created_at)
            .group_by(p.user_id)
        )
        return self._moments(statement)

    def _moments(self, statement: Any) -> dict[int, datetime]:
        with self._engine.connect() as connection:
            # min() over a UtcDateTime column comes back untyped on SQLite: read it through the column type.
            moments = {}
            for account_id, first in connection.execute(statement):
                moments[int(account_id)] = _as_utc(first)
            return moments

    def events_per_day(self, since: datetime) -> dict[date, int]:
        e = t.events.c
        return self._per_day(t.events, e.occurred_at, since)

    def purchases_per_day(self, since: datetime) -> dict[date, int]:
        p = t.purchases.c
        return self._per_day(t.purchases, p.purchased_at, since)

    def _per_day(self, table: Any, column: Any, since: datetime) -> dict[date, int]:
        with self._engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                day = cast(func.timezone("UTC", column), Date)
            else:
                day = func.date(column)  # SQLite keeps naive UTC text
            statement = select(day.label("day"), func.count().label("n")).where(column >= since).group_by(day)
            counts = {}
            for row in connection.execute(statement):
                value = row.day if isinstance(row.day, date) else date.fromisoformat(row.day)
                counts[value] = int(row.n)
            return counts

    def failed_deliveries(self, since: datetime) -> FailedDeliveries:
        d, i = t.webhook_deliveries.c, t.platform_integrations.c
        waiting = t.webhook_deliveries.join(t.platform_integrations, i.id == d.integration_id)
        dead = (d.failed_at.is_not(None), d.processed_at.is_(None))
        with self._engine.connect() as connection:
            count, accounts = connection.execute(
                select(func.count(), func.count(i.user_id.distinct())).select_from(waiting).where(*dead)
            ).one()
            recent = connection.execute(
                select(func.count()).select_from(t.webhook_deliveries).where(d.failed_at >= since)
            ).scalar_one()
        return FailedDeliveries(waiting=int(count), accounts=int(accounts), since=int(recent))


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
