"""The schema. Alembic migrations create it; this module describes it for queries and for checks."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from adapters.persistence.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Ids grow past 2**31 in the event and session tables at scale: BIGINT on PostgreSQL, and
# SQLite's INTEGER PRIMARY KEY (its rowid) for the embedded default.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _touch_columns(prefix: str) -> list[Column[object]]:
    return [
        Column(f"{prefix}_source", String(200)),
        Column(f"{prefix}_channel", String(40)),
        Column(f"{prefix}_medium", String(200)),
        Column(f"{prefix}_campaign", String(200)),
        Column(f"{prefix}_term", String(200)),
        Column(f"{prefix}_content", String(200)),
        Column(f"{prefix}_referrer_host", String(255)),
        Column(f"{prefix}_landing_page", Text),
        Column(f"{prefix}_click_id", String(20)),
        Column(f"{prefix}_utm_source", String(200)),
        Column(f"{prefix}_at", UtcDateTime),
    ]


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

sites = Table(
    "sites",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("public_key", String(40), nullable=False, unique=True),
    Column("allowed_domains", JSON, nullable=False),
    # Whether the tracker stays silent for browsers sending Global Privacy Control or Do Not Track.
    Column("respect_gpc", Boolean, nullable=False, server_default=false()),
    Column("checkout_paths", JSON),  # the creator's own checkout pages: starts of paths, or NULL for none
)

visitors = Table(
    "visitors",
    metadata,
    Column("id", Id, primary_key=True),
    Column("site_id", Id, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("visitor_key", String(64), nullable=False),
    Column("email", String(254)),
    Column("first_seen_at", UtcDateTime, nullable=False),
    *_touch_columns("first_touch"),
    *_touch_columns("last_touch"),
    UniqueConstraint("site_id", "visitor_key"),
    Index("ix_visitors_user_email", "user_id", "email"),
    Index("ix_visitors_user_key", "user_id", "visitor_key"),
    Index("ix_visitors_user_first_touch", "user_id", "first_touch_at", "first_touch_source"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("visitor_id", Id, ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("source", String(200), nullable=False),
    Column("channel", String(40), nullable=False),
    Column("medium", String(200)),
    Column("campaign", String(200)),
    Column("term", String(200)),
    Column("content", String(200)),
    Column("referrer_host", String(255)),
    Column("landing_page", Text),
    Column("click_id", String(20)),
    Column("utm_source", String(200)),
    Index("ix_sessions_visitor_started", "visitor_id", "started_at"),
    Index("ix_sessions_user_started", "user_id", "started_at", "source"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("site_id", Id, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("visitor_id", Id, ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("session_id", Id, ForeignKey("sessions.id", ondelete="CASCADE")),
    Column("client_event_id", String(64), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("url", Text, nullable=False),
    Column("referrer", Text),
    Column("title", String(300)),
    Column("occurred_at", UtcDateTime, nullable=False),
    UniqueConstraint("site_id", "client_event_id"),
    Index("ix_events_site_occurred", "site_id", "occurred_at"),
)

# Tracker events as the collect endpoint accepted them (validated, never the sender's address), stored once
# per client event id before the ingestion pipeline runs on them in a job; `processed_at` marks them done.
inbound_events = Table(
    "inbound_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("site_id", Id, ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("client_event_id", String(64), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("visitor_key", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("referrer", Text),
    Column("title", String(300)),
    Column("email", String(254)),
    Column("user_agent", Text),
    Column("fingerprint", String(64)),
    Column("handoff_from", String(64)),
    Column("received_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("processed_at", UtcDateTime),
    Column("outcome", String(20)),
    UniqueConstraint("site_id", "client_event_id"),
    Index("ix_inbound_events_pending", "user_id", "processed_at", "id"),
    Index("ix_inbound_events_processed_at", "processed_at"),
)

purchases = Table(
    "purchases",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("platform", String(40), nullable=False),
    Column("platform_purchase_id", String(255), nullable=False),
    Column("email", String(254)),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("course_name", String(500)),
    Column("purchased_at", UtcDateTime, nullable=False),
    Column("visitor_key", String(64)),
    Column("visitor_id", Id, ForeignKey("visitors.id", ondelete="SET NULL")),
    Column("attribution_status", String(20), nullable=False),
    Column("match_method", String(20)),
    Column("source_hint", String(200)),
    Column("referrer_hint", Text),
    Column("recipient_email", String(254)),
    Column("match_confidence", Integer),
    Column("rules_version", Integer),
    Column("unmatched_reason", String(30)),  # UnmatchedReason value
    UniqueConstraint("user_id", "platform", "platform_purchase_id"),
    Index("ix_purchases_user_purchased", "user_id", "purchased_at"),
    Index("ix_purchases_user_email", "user_id", "email"),
    Index("ix_purchases_user_recipient_email", "user_id", "recipient_email"),
    Index("ix_purchases_user_visitor_key", "user_id", "visitor_key"),
    Index("ix_purchases_visitor_id", "visitor_id"),
    Index("ix_purchases_rules_version", "rules_version"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Id, primary_key=True),
    Column("purchase_id", Id, ForeignKey("purchases.id", ondelete="CASCADE"), nullable=False),
    Column("platform_refund_id", String(255), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("refunded_at", UtcDateTime, nullable=False),
    UniqueConstraint("purchase_id", "platform_refund_id"),
)

attributions = Table(
    "attributions",
    metadata,
    Column("purchase_id", Id, ForeignKey("purchases.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(20), primary_key=True),
    Column("rules_version", Integer, nullable=False),
    *_touch_columns("touch"),
)

# Every touch of the buyer's journey before a purchase, in order: the drill-down behind the credits.
purchase_touches = Table(
    "purchase_touches",
    metadata,
    Column("purchase_id", Id, ForeignKey("purchases.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("visitor_id", Id, ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False, index=True),
    *_touch_columns("touch"),
)

# Identity facts: an email claimed by a visitor at a moment (identify events).
visitor_emails = Table(
    "visitor_emails",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("visitor_id", Id, ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(254), nullable=False),
    Column("claimed_at", UtcDateTime, nullable=False),
    UniqueConstraint("visitor_id", "email", "claimed_at"),
    Index("ix_visitor_emails_user_email", "user_id", "email"),
)

# Identity facts: a visitor id handed to another across the creator's domains.
visitor_handoffs = Table(
    "visitor_handoffs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("from_visitor_id", Id, ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False),
    Column("to_visitor_id", Id, ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("handed_at", UtcDateTime, nullable=False),
    UniqueConstraint("from_visitor_id", "to_visitor_id", "handed_at"),
)

# A visitor reached a checkout page (or clicked to one): the timing evidence for fingerprint matching.
checkout_reaches = Table(
    "checkout_reaches",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("visitor_id", Id, ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("fingerprint", String(64)),
    Column("reached_at", UtcDateTime, nullable=False),
    Index("ix_checkout_reaches_user_reached", "user_id", "reached_at"),
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

# One random salt per UTC day for fingerprints; rows older than 48 hours are deleted.
fingerprint_salts = Table(
    "fingerprint_salts",
    metadata,
    Column("day", UtcDateTime, primary_key=True),
    Column("salt", LargeBinary, nullable=False),
)

platform_integrations = Table(
    "platform_integrations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("site_id", Id, ForeignKey("sites.id", ondelete="SET NULL")),
    Column("platform", String(40), nullable=False),
    Column("encrypted_credentials", LargeBinary),
    Column("webhook_token_hash", String(64)),
    Column("status", String(20), nullable=False),
    Column("last_synced_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    # The platform's own account the connection reads (a Kajabi site), and the hooks registered there.
    Column("external_account_id", String(255)),
    Column("external_account_name", String(255)),
    Column("webhook_ids", JSON, nullable=False, server_default="[]"),
    Column("status_reason", Text),
    Column("sync_pages_done", Integer, nullable=False, server_default="0"),
    Column("sync_purchases_found", Integer, nullable=False, server_default="0"),
    Column("sync_total", Integer),
    Column("sync_started_at", UtcDateTime),
    # The running sync's checkpoint (the adapter's page cursor) and when it last stored a page.
    Column("sync_cursor", Text),
    Column("sync_heartbeat_at", UtcDateTime),
    # Sync health: reading the platform has failed since `failing_since`, the last time for `sync_error`;
    # the creator was emailed about it at `failure_emailed_at`.
    Column("sync_error", Text),
    Column("failing_since", UtcDateTime),
    Column("failure_emailed_at", UtcDateTime),
    Index("ix_platform_integrations_status", "status"),
)

# Raw webhook deliveries, stored once per (connection, platform event id) before a job processes them.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("integration_id", Id, ForeignKey("platform_integrations.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime),
    Column("outcome", String(200)),
    # Processing attempts; failed_at is set when the last one failed (a dead letter, until replayed).
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_attempt_at", UtcDateTime),
    Column("last_error", String(500)),
    Column("failed_at", UtcDateTime),
    UniqueConstraint("integration_id", "event_id"),
    Index("ix_webhook_deliveries_unfinished", "processed_at", "integration_id"),
)

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

# Each time a creator tried to connect a platform (the credentials check): the connection success metrics.
connection_attempts = Table(
    "connection_attempts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("platform", String(40), nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("error", String(300)),  # what the creator was told; None: the credentials were accepted
    Index("ix_connection_attempts_user_platform", "user_id", "platform", "attempted_at"),
)

# Visitors per (model, dimension, key, UTC day), kept up to date as sessions are stored (see
# core/domain/visitor_counts.py), so reports add up a few thousand rows instead of counting sessions.
visitor_counts = Table(
    "visitor_counts",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(20), primary_key=True),
    Column("dimension", String(20), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("channel", String(40), primary_key=True),
    Column("value", String(300), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("visitors", Integer, nullable=False),
)

# The report queries walk purchases by account and time, then look their credits up by model and source.
Index("ix_attributions_model_source", attributions.c.model, attributions.c.touch_source, attributions.c.purchase_id)

# Each purchase once more, flat, as the reports read it (see adapters/persistence/revenue_lines.py).
revenue_lines = Table(
    "revenue_lines",
    metadata,
    Column("purchase_id", Id, ForeignKey("purchases.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(20), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("purchased_at", UtcDateTime, nullable=False),
    Column("day", Date, nullable=False),
    Column("net_amount", BigInteger, nullable=False),
    Column("buyer", String(300)),
    Column("matched", Boolean, nullable=False),
    Column("source", String(200)),
    Column("channel", String(40)),
    Column("medium", String(200)),
    Column("campaign", String(200)),
    Column("landing_path", String(300)),
    Column("utm_source", String(200)),
    Index("ix_revenue_lines_report", "user_id", "model", "currency", "purchased_at"),
    Index("ix_revenue_lines_source", "user_id", "model", "source", "purchased_at"),
)

# Bot visits dropped at the collect endpoint, per site and UTC day: never stored, only counted for the creator.
bot_visits = Table(
    "bot_visits",
    metadata,
    Column("site_id", Id, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("visits", Integer, nullable=False),
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
