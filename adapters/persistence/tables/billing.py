"""The creator's own subscription to CourseSignal: its state, Stripe's events, notices sent, status changes."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint, false

from adapters.persistence.tables.columns import Id, metadata
from adapters.persistence.types import UtcDateTime

# CourseSignal's own billing: one row per account with what Stripe last told us, and the ids of the
# Stripe events already handled, so a repeated delivery changes nothing.
billing_subscriptions = Table(
    "billing_subscriptions",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("stripe_customer_id", String(255), unique=True),
    Column("stripe_subscription_id", String(255)),
    Column("stripe_status", String(30)),
    Column("cancel_at_period_end", Boolean, nullable=False, server_default=false()),
    Column("current_period_end", UtcDateTime),
    Column("trial_end", UtcDateTime),
    Column("failed_payment_attempts", Integer, nullable=False, server_default="0"),
    Column("next_payment_attempt_at", UtcDateTime),
    Column("status_as_of", UtcDateTime),
    Column("payment_as_of", UtcDateTime),
)


billing_events = Table(
    "billing_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("stripe_event_id", String(255), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("event_created_at", UtcDateTime, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# The billing emails sent, one row per (account, kind, occasion): an email goes out once however often the
# event or the job that causes it runs.
billing_notices = Table(
    "billing_notices",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("notice_key", String(255), nullable=False),
    Column("sent_at", UtcDateTime, nullable=False),
    UniqueConstraint("user_id", "kind", "notice_key"),
)

# Every change of an account's Stripe subscription status, at the time of the Stripe event that made it: the
# history behind trial -> paid conversion and monthly churn (core/domain/metrics.py).
billing_status_changes = Table(
    "billing_status_changes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("stripe_status", String(30), nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    Index("ix_billing_status_changes_user_changed", "user_id", "changed_at"),
)
