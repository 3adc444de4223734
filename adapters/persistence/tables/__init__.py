"""The schema. Alembic migrations create it; these modules describe it for queries and for checks, one per
aggregate like the repositories (accounts, tracking, identities, purchases, connections, billing, reports), on
the metadata of columns.py. Every table is read as `tables.<name>` (`from adapters.persistence import tables as t`)."""

from __future__ import annotations

from adapters.persistence.tables.accounts import (
    api_tokens,
    attribution_settings,
    beta_feedback,
    beta_members,
    beta_setup_help,
    display_settings,
    feature_usage,
    onboarding,
    source_rules,
    users,
)
from adapters.persistence.tables.billing import (
    billing_events,
    billing_notices,
    billing_status_changes,
    billing_subscriptions,
)
from adapters.persistence.tables.columns import Id, metadata
from adapters.persistence.tables.connections import connection_attempts, platform_integrations, webhook_deliveries
from adapters.persistence.tables.identities import checkout_reaches, visitor_emails, visitor_handoffs
from adapters.persistence.tables.purchases import attributions, purchase_touches, purchases, refunds
from adapters.persistence.tables.reports import revenue_days, revenue_lines, visitor_counts
from adapters.persistence.tables.tracking import (
    bot_visits,
    events,
    fingerprint_salts,
    inbound_events,
    sessions,
    sites,
    visitors,
)

__all__ = [
    "Id",
    "api_tokens",
    "attribution_settings",
    "attributions",
    "beta_feedback",
    "beta_members",
    "beta_setup_help",
    "billing_events",
    "billing_notices",
    "billing_status_changes",
    "billing_subscriptions",
    "bot_visits",
    "checkout_reaches",
    "connection_attempts",
    "display_settings",
    "events",
    "feature_usage",
    "fingerprint_salts",
    "inbound_events",
    "metadata",
    "onboarding",
    "platform_integrations",
    "purchase_touches",
    "purchases",
    "refunds",
    "revenue_days",
    "revenue_lines",
    "sessions",
    "sites",
    "source_rules",
    "users",
    "visitor_counts",
    "visitor_emails",
    "visitor_handoffs",
    "visitors",
    "webhook_deliveries",
]
