"""Identity facts that tie visitors to buyers: email claims, hand-offs between sites, checkout reaches."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint

from adapters.persistence.tables.columns import Id, metadata
from adapters.persistence.types import UtcDateTime

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
