"""Storing the per-day visitor counts: the incremental path (a session stored) and a rebuild from history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence import tables as t
from adapters.persistence.revenue_lines import raw_source_stored
from core.domain.attribution import Model
from core.domain.channels import Channel
from core.domain.touches import Touch
from core.domain.visitor_counts import CountKey, VisitorCountChange, net_changes, replay_visitor

NetCounts = Mapping[tuple[Model, CountKey, date], int]

# Only the columns the counts need, named one by one: this module also runs inside migration 0002, where
# columns that later revisions add do not exist yet.
_SESSION_COLUMNS = (
    t.sessions.c.user_id,
    t.sessions.c.visitor_id,
    t.sessions.c.started_at,
    t.sessions.c.source,
    t.sessions.c.channel,
    t.sessions.c.medium,
    t.sessions.c.campaign,
    t.sessions.c.landing_page,
)


def _session_columns(connection: Connection) -> tuple[Any, ...]:
    return (*_SESSION_COLUMNS, t.sessions.c.utm_source) if raw_source_stored(connection) else _SESSION_COLUMNS


def store_net_counts(connection: Connection, account_id: int, net: NetCounts) -> None:
    """Add the changes to the stored counts, creating the rows that do not exist yet."""
    if not net:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(t.visitor_counts)
    statement = statement.on_conflict_do_update(
        index_elements=[c.name for c in t.visitor_counts.primary_key.columns],
        set_={"visitors": t.visitor_counts.c.visitors + statement.excluded.visitors},
    )
    connection.execute(
        statement,
        [
            {
                "user_id": account_id,
                "model": model.value,
                "dimension": key.dimension.value,
                "source": key.source,
                "channel": key.channel,
                "value": key.value,
                "day": day,
                "visitors": delta,
            }
            for (model, key, day), delta in sorted(net.items(), key=_row_order)
        ],
    )


def _row_order(item: tuple[tuple[Model, CountKey, date], int]) -> tuple[Any, ...]:
    # One order for every writer, so two transactions updating the same rows never wait on each other in a cycle.
    (model, key, day), _ = item
    return (model.value, key.dimension.value, key.source, key.channel, key.value, day)


def store_changes(connection: Connection, account_id: int, changes: Iterable[VisitorCountChange]) -> None:
    store_net_counts(connection, account_id, net_changes(changes))


def _touch(row: Any) -> Touch:
    return Touch(
        source=row.source,
        channel=Channel(row.channel),
        occurred_at=row.started_at,
        medium=row.medium,
        campaign=row.campaign,
        landing_page=row.landing_page,
        utm_source=row._mapping.get("utm_source"),
    )


def rebuild_visitor_counts(connection: Connection, account_id: int | None = None) -> None:
    """Recount from the stored sessions (one account, or all): what the incremental path would have kept."""
    where = [] if account_id is None else [t.visitor_counts.c.user_id == account_id]
    connection.execute(delete(t.visitor_counts).where(*where))
    query = select(*_session_columns(connection)).order_by(
        t.sessions.c.user_id, t.sessions.c.visitor_id, t.sessions.c.started_at
    )
    if account_id is not None:
        query = query.where(t.sessions.c.user_id == account_id)
    # Counts are added up in memory (a few rows per key and day) and written once the reading is done.
    totals: dict[int, dict[tuple[Model, CountKey, date], int]] = {}
    rows = connection.execute(query.execution_options(yield_per=10000))
    for (user_id, _visitor_id), sessions in groupby(rows, key=lambda row: (row.user_id, row.visitor_id)):
        account = totals.setdefault(user_id, {})
        for row, delta in net_changes(replay_visitor([_touch(row) for row in sessions])).items():
            account[row] = account.get(row, 0) + delta
    for user_id, net in totals.items():
        store_net_counts(connection, user_id, {row: delta for row, delta in net.items() if delta})


def forget_visitor_counts(connection: Connection, visitor_id: int) -> None:
    """Take one visitor's part out of the counts (an erasure): what a rebuild without them would keep."""
    rows = connection.execute(
        select(*_SESSION_COLUMNS, t.sessions.c.utm_source)
        .where(t.sessions.c.visitor_id == visitor_id)
        .order_by(t.sessions.c.started_at)
    ).all()
    if not rows:
        return
    account_id = rows[0].user_id
    net = net_changes(replay_visitor([_touch(row) for row in rows]))
    store_net_counts(connection, account_id, {row: -delta for row, delta in net.items()})
    # A count the visitor alone made is gone, not kept as a zero naming its source, campaign or page.
    c = t.visitor_counts.c
    connection.execute(delete(t.visitor_counts).where(c.user_id == account_id, c.visitors == 0))
