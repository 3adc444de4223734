"""The operator's read side: plain rows across all accounts for the business metrics (core/services/metrics.py).

Unlike queries.py these are not scoped to one account: only the operator console and `coursesignal metrics`
read them.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from adapters.persistence import tables as t
from core.domain.metrics import AccountFacts


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
