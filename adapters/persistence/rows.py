"""How domain values sit in rows, shared by the repositories: a touch spread over prefixed columns, and an
INSERT that ignores a row already stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence import tables as t
from core.domain.channels import Channel
from core.domain.touches import Touch

TOUCH_FIELDS = (
    "source",
    "channel",
    "medium",
    "campaign",
    "term",
    "content",
    "referrer_host",
    "landing_page",
    "click_id",
    "utm_source",
)


def touch_values(prefix: str, touch: Touch | None) -> dict[str, Any]:
    if touch is None:
        return {f"{prefix}_{name}": None for name in (*TOUCH_FIELDS, "at")}
    values = {f"{prefix}_{name}": getattr(touch, name) for name in TOUCH_FIELDS}
    values[f"{prefix}_channel"] = touch.channel.value
    values[f"{prefix}_at"] = touch.occurred_at
    return values


def touch_from(row: Mapping[str, Any], prefix: str) -> Touch | None:
    if row[f"{prefix}_at"] is None:
        return None
    return Touch(
        source=row[f"{prefix}_source"],
        channel=Channel(row[f"{prefix}_channel"]),
        occurred_at=row[f"{prefix}_at"],
        **{name: row[f"{prefix}_{name}"] for name in TOUCH_FIELDS if name not in ("source", "channel")},
    )


def insert_ignoring_duplicates(connection: Connection, table: t.Table, values: dict[str, Any], keys: list[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was written."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    # RETURNING, not rowcount: the driver's rowcount is unreliable for ON CONFLICT on some dialects.
    return connection.execute(statement.returning(table.c.id)).first() is not None


def session_touch(row: Row[Any]) -> Touch:
    """A session's touch: the columns of the sessions table, dated at the session's start."""
    m = row._mapping
    return Touch(
        source=m["source"],
        channel=Channel(m["channel"]),
        occurred_at=m["started_at"],
        **{name: m[name] for name in TOUCH_FIELDS if name not in ("source", "channel")},
    )
