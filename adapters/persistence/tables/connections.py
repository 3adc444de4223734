"""Platform connections, the webhook deliveries stored for them, and connection attempts."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text, UniqueConstraint

from adapters.persistence.tables.columns import Id, metadata
from adapters.persistence.types import UtcDateTime

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
