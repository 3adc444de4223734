"""Purchases and their attribution: refunds, credits per model, the journey behind each purchase."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from adapters.persistence.tables.columns import Id, metadata, touch_columns
from adapters.persistence.types import UtcDateTime

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
    *touch_columns("touch"),
)

# The report queries walk purchases by account and time, then look their credits up by model and source.
Index("ix_attributions_model_source", attributions.c.model, attributions.c.touch_source, attributions.c.purchase_id)

# Every touch of the buyer's journey before a purchase, in order: the drill-down behind the credits.
purchase_touches = Table(
    "purchase_touches",
    metadata,
    Column("purchase_id", Id, ForeignKey("purchases.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("visitor_id", Id, ForeignKey("visitors.id", ondelete="CASCADE"), nullable=False, index=True),
    *touch_columns("touch"),
)
