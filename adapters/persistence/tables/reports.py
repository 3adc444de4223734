"""The reports' summaries, kept in the transaction that changes what they summarise: visitor counts per day,
one flat revenue line per purchase and model, and revenue, purchases and students per day."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, ForeignKey, Index, Integer, String, Table

from adapters.persistence.tables.columns import Id, metadata
from adapters.persistence.types import UtcDateTime

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
    # A purchase's lines change: the buyer's other lines say which day of theirs came before.
    Index("ix_revenue_lines_buyer", "user_id", "buyer"),
)

# Revenue, purchases and students per day and key, from the revenue lines (see core/domain/revenue_days.py).
revenue_days = Table(
    "revenue_days",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(20), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("dimension", String(20), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("value", String(300), primary_key=True),
    Column("previous_day", Date, primary_key=True),
    Column("revenue", BigInteger, nullable=False),
    Column("purchases", Integer, nullable=False),
    Column("matched", Integer, nullable=False),
    Column("students", Integer, nullable=False),
)
