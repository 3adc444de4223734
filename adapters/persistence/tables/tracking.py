"""What the tracker brings: sites, visitors, sessions, events, the inbound queue, fingerprint salts and bot visits."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from adapters.persistence.tables.columns import Id, metadata, session_touch_columns, touch_columns
from adapters.persistence.types import UtcDateTime

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
    *touch_columns("first_touch"),
    *touch_columns("last_touch"),
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
    *session_touch_columns(),
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
    # The site's account, copied from the site's row by the insert; deleting an account deletes its sites, and
    # so these rows: a key of its own would only check again what the site's key holds (migration 0023).
    Column("user_id", Id, nullable=False),
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

# One random salt per UTC day for fingerprints; rows older than 48 hours are deleted.
fingerprint_salts = Table(
    "fingerprint_salts",
    metadata,
    Column("day", UtcDateTime, primary_key=True),
    Column("salt", LargeBinary, nullable=False),
)

# Bot visits dropped at the collect endpoint, per site and UTC day: never stored, only counted for the creator.
bot_visits = Table(
    "bot_visits",
    metadata,
    Column("site_id", Id, ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("visits", Integer, nullable=False),
)
