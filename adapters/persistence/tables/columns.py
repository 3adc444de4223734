"""What every table module shares: the metadata (with its naming convention), the id type and the columns of a touch."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Text

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


def touch_columns(prefix: str) -> list[Column[object]]:
    """A touch kept beside other columns, each named `<prefix>_<field>`, with `<prefix>_at` for its time."""
    return [*_touch_fields(f"{prefix}_", required=False), Column(f"{prefix}_at", UtcDateTime)]


def session_touch_columns() -> list[Column[object]]:
    """A session's touch: the same fields without a prefix, its source and channel always known; its time is
    the session's start."""
    return _touch_fields("", required=True)


def _touch_fields(prefix: str, *, required: bool) -> list[Column[object]]:
    return [
        Column(f"{prefix}source", String(200), nullable=not required),
        Column(f"{prefix}channel", String(40), nullable=not required),
        Column(f"{prefix}medium", String(200)),
        Column(f"{prefix}campaign", String(200)),
        Column(f"{prefix}term", String(200)),
        Column(f"{prefix}content", String(200)),
        Column(f"{prefix}referrer_host", String(255)),
        Column(f"{prefix}landing_page", Text),
        Column(f"{prefix}click_id", String(20)),
        Column(f"{prefix}utm_source", String(200)),
    ]
