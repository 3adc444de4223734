"""The account and what belongs to it alone: API tokens, onboarding, settings, source rules, the beta program
and feature usage."""

from __future__ import annotations

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from adapters.persistence.tables.columns import Id, metadata
from adapters.persistence.types import UtcDateTime

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255)),
    Column("email_verified_at", UtcDateTime),
    Column("subscription_status", String(20), nullable=False, server_default="trialing"),
    Column("trial_ends_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("session_version", Integer, nullable=False, server_default="0"),
    # Set by `coursesignal operator grant`, cleared by `revoke`: never from the web.
    Column("operator_since", UtcDateTime),
)


onboarding = Table(
    "onboarding",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("platform", String(40)),
    Column("synced_at", UtcDateTime),
    Column("purchases_imported", Integer, nullable=False, server_default="0"),
    Column("completed_at", UtcDateTime),
    Column("connection_id", Id, ForeignKey("platform_integrations.id", ondelete="SET NULL")),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime),
)

attribution_settings = Table(
    "attribution_settings",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("lookback_days", Integer, nullable=False),
)

# How the account's pages write money and times (core/domain/display.py); no row: the defaults.
display_settings = Table(
    "display_settings",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("locale", String(20), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("currency", String(3)),
)

# A creator's own names for sources (core/domain/source_rules.py): read by the report queries, which show each
# recorded source under its rule's name; nothing recorded is rewritten.
source_rules = Table(
    "source_rules",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("match", String(200), primary_key=True),
    Column("source", String(200), nullable=False),
    Column("channel", String(40)),
)

# The beta program (docs/beta.md): an address an operator invited, and the account once it joined (signed up
# with that address and confirmed it, or was marked as beta). A row without user_id is an invitation waiting.
beta_members = Table(
    "beta_members",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), unique=True),
    Column("invited_at", UtcDateTime, nullable=False),
    Column("joined_at", UtcDateTime),
    Column("feedback_prompt_closed_at", UtcDateTime),  # the weekly prompt last answered or dismissed
    Column("testimonial_consent_at", UtcDateTime),
    Column("testimonial_withdrawn_at", UtcDateTime),
)

# A beta member's "book setup help" request; the operator closes it once the call is done.
beta_setup_help = Table(
    "beta_setup_help",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("message", Text, nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime),
    Index("ix_beta_setup_help_user", "user_id", "requested_at"),
)

# A beta member's answer to the weekly feedback prompt.
beta_feedback = Table(
    "beta_feedback",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("confusing", Text, nullable=False),
    Column("missing_report", Text, nullable=False),
    Column("submitted_at", UtcDateTime, nullable=False),
    Index("ix_beta_feedback_user", "user_id", "submitted_at"),
)

# How often each account used a dashboard view, export or drill-down, per UTC day: counted by the request
# that served it, nothing about the account's visitors (core/domain/feature_usage.py).
feature_usage = Table(
    "feature_usage",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("day", Date, nullable=False),
    Column("feature", String(60), nullable=False),
    Column("uses", Integer, nullable=False),
    UniqueConstraint("user_id", "day", "feature"),
)
