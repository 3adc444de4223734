"""The billing repository: an account's Stripe subscription state and the Stripe events already handled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence import tables as t
from adapters.persistence.rows import insert_ignoring_duplicates
from core.domain.subscriptions import Subscription

_S = t.billing_subscriptions


class SqlBilling:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, account_id: int, *, for_update: bool = False) -> Subscription | None:
        if for_update:
            # The users row always exists, unlike the subscription row, so it is what serializes the changes.
            # (SQLite has no FOR UPDATE: its single writer does the same.)
            self._c.execute(select(t.users.c.id).where(t.users.c.id == account_id).with_for_update())
        row = self._c.execute(select(_S).where(_S.c.user_id == account_id)).first()
        if row is None:
            return None
        return Subscription(
            account_id=row.user_id,
            stripe_customer_id=row.stripe_customer_id,
            stripe_subscription_id=row.stripe_subscription_id,
            stripe_status=row.stripe_status,
            cancel_at_period_end=bool(row.cancel_at_period_end),
            current_period_end=row.current_period_end,
            trial_end=row.trial_end,
            failed_payment_attempts=row.failed_payment_attempts,
            next_payment_attempt=row.next_payment_attempt_at,
            status_as_of=row.status_as_of,
            payment_as_of=row.payment_as_of,
        )

    def save(self, subscription: Subscription) -> None:
        values: dict[str, Any] = {
            "stripe_customer_id": subscription.stripe_customer_id,
            "stripe_subscription_id": subscription.stripe_subscription_id,
            "stripe_status": subscription.stripe_status,
            "cancel_at_period_end": subscription.cancel_at_period_end,
            "current_period_end": subscription.current_period_end,
            "trial_end": subscription.trial_end,
            "failed_payment_attempts": subscription.failed_payment_attempts,
            "next_payment_attempt_at": subscription.next_payment_attempt,
            "status_as_of": subscription.status_as_of,
            "payment_as_of": subscription.payment_as_of,
        }
        stored = self._c.execute(select(_S.c.stripe_status).where(_S.c.user_id == subscription.account_id)).first()
        changed_at = subscription.status_as_of or subscription.payment_as_of
        changed = stored is None or stored.stripe_status != subscription.stripe_status
        if subscription.stripe_status is not None and changed_at is not None and changed:
            # The history behind conversion and churn (docs/metrics.md), dated by the Stripe event that told us.
            self._c.execute(
                insert(t.billing_status_changes).values(
                    user_id=subscription.account_id,
                    stripe_status=subscription.stripe_status,
                    changed_at=changed_at,
                )
            )
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        upsert = dialect.insert(_S).values(user_id=subscription.account_id, **values)
        self._c.execute(upsert.on_conflict_do_update(index_elements=[_S.c.user_id], set_=values))

    def account_for_customer(self, customer_id: str) -> int | None:
        found = self._c.execute(select(_S.c.user_id).where(_S.c.stripe_customer_id == customer_id)).scalar()
        return int(found) if found is not None else None

    def trial_ends_at(self, account_id: int) -> datetime | None:
        value: datetime | None = self._c.execute(
            select(t.users.c.trial_ends_at).where(t.users.c.id == account_id)
        ).scalar()
        return value

    def record_event(self, event_id: str, event_type: str, created: datetime, received_at: datetime) -> bool:
        values = {
            "stripe_event_id": event_id,
            "event_type": event_type,
            "event_created_at": created,
            "received_at": received_at,
        }
        return insert_ignoring_duplicates(self._c, t.billing_events, values, ["stripe_event_id"])

    def record_notice(self, account_id: int, kind: str, key: str, sent_at: datetime) -> bool:
        values = {"user_id": account_id, "kind": kind, "notice_key": key, "sent_at": sent_at}
        return insert_ignoring_duplicates(self._c, t.billing_notices, values, ["user_id", "kind", "notice_key"])

    def accounts_with_trial_ending(self, after: datetime, until: datetime) -> list[int]:
        found = self._c.execute(
            select(t.users.c.id)
            .where(t.users.c.trial_ends_at > after, t.users.c.trial_ends_at <= until)
            .order_by(t.users.c.id)
        )
        return [int(account_id) for account_id in found.scalars()]
