"""Storing the per-day revenue figures (core/domain/revenue_days.py): kept in step whenever a purchase's
revenue lines are rewritten, and rebuilt in bulk from the lines (a migration, a change of source rules).

Only the buyers of the purchase whose lines change can see their figures move, so the incremental path
recounts those buyers' lines before and after the change and stores the difference. Writers of one account
take turns (a transaction-scoped advisory lock on PostgreSQL; SQLite has one writer anyway), so a buyer's
lines cannot change between the two readings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence import tables as t
from core.domain.channels import Channel
from core.domain.revenue_days import DayFigures, DayKey, add_figures, day_figures, difference
from core.domain.source_rules import SourceRule

_r = t.revenue_lines.c
_LINE_COLUMNS = (
    _r.model,
    _r.currency,
    _r.day,
    _r.net_amount,
    _r.buyer,
    _r.matched,
    _r.source,
    _r.channel,
    _r.medium,
    _r.campaign,
    _r.landing_path,
    _r.utm_source,
)
_KEY_COLUMNS = ("model", "currency", "dimension", "source", "value", "day", "previous_day")
_FIGURES = ("revenue", "purchases", "matched", "students")


def stored_rules(connection: Connection, account_id: int | None = None) -> dict[int, list[SourceRule]]:
    """The source rules of one account (or every account), by account."""
    r = t.source_rules.c
    query = select(r.user_id, r.match, r.source, r.channel)
    if account_id is not None:
        query = query.where(r.user_id == account_id)
    found: dict[int, list[SourceRule]] = {}
    for user_id, match, source, channel in connection.execute(query):
        found.setdefault(user_id, []).append(SourceRule(match, source, Channel(channel) if channel else None))
    return found


def _row(account_id: int, key: DayKey, figures: DayFigures) -> dict[str, Any]:
    return {
        "user_id": account_id,
        **{name: getattr(key, name) for name in _KEY_COLUMNS},
        **{name: getattr(figures, name) for name in _FIGURES},
    }


def _store(connection: Connection, account_id: int, changes: Mapping[DayKey, DayFigures]) -> None:
    """Add the changes to the stored figures; a row left with no purchase goes."""
    if not changes:
        return
    days = t.revenue_days
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(days)
    statement = statement.on_conflict_do_update(
        index_elements=[c.name for c in days.primary_key.columns],
        set_={name: days.c[name] + statement.excluded[name] for name in _FIGURES},
    )
    # One order for every writer, so two transactions never wait on each other's rows in a cycle.
    connection.execute(statement, [_row(account_id, key, changes[key]) for key in sorted(changes)])
    emptied = [key for key in sorted(changes) if changes[key].purchases < 0]
    if emptied:
        c = days.c
        connection.execute(
            delete(days).where(
                c.user_id == account_id,
                *(c[name] == bindparam(f"k_{name}") for name in _KEY_COLUMNS),
                c.purchases == 0,
            ),
            [{f"k_{name}": getattr(key, name) for name in _KEY_COLUMNS} for key in emptied],
        )


def _take_turn(connection: Connection, account_id: int) -> None:
    if connection.dialect.name == "postgresql":
        key = func.hashtextextended(f"revenue_days:{account_id}", 0)
        connection.execute(select(func.pg_advisory_xact_lock(key)))


def _lines(connection: Connection, account_id: int, buyers: Sequence[str], purchase_id: int) -> list[Any]:
    """Every line of these buyers in the account, and the purchase's own lines (with or without a buyer)."""
    mine = or_(_r.purchase_id == purchase_id, and_(_r.user_id == account_id, _r.buyer.in_(buyers)))
    return [row._mapping for row in connection.execute(select(*_LINE_COLUMNS).where(mine))]


@contextmanager
def following(
    connection: Connection, account_id: int, purchase_id: int, new_buyers: Sequence[str | None]
) -> Iterator[None]:
    """Keep the per-day figures in step while the body rewrites one purchase's revenue lines, whose buyers
    will be `new_buyers`."""
    _take_turn(connection, account_id)
    old_buyers = connection.execute(select(_r.buyer).where(_r.purchase_id == purchase_id)).scalars()
    buyers = sorted({b for b in (*old_buyers, *new_buyers) if b is not None})
    rules = stored_rules(connection, account_id).get(account_id, [])
    before = day_figures(_lines(connection, account_id, buyers, purchase_id), rules)
    yield
    after = day_figures(_lines(connection, account_id, buyers, purchase_id), rules)
    _store(connection, account_id, difference(before, after))


def rebuild_revenue_days(connection: Connection, account_id: int | None = None) -> None:
    """Recount from the stored revenue lines (one account, or all): what the incremental path would have kept."""
    if account_id is not None:
        _take_turn(connection, account_id)
    where = [] if account_id is None else [t.revenue_days.c.user_id == account_id]
    connection.execute(delete(t.revenue_days).where(*where))
    rules = stored_rules(connection, account_id)
    query = select(_r.user_id, *_LINE_COLUMNS).order_by(_r.user_id, _r.buyer)
    if account_id is not None:
        query = query.where(_r.user_id == account_id)
    totals: dict[int, dict[DayKey, DayFigures]] = {}
    rows = connection.execute(query.execution_options(yield_per=10000))
    for (user_id, _buyer), lines in groupby(rows, key=lambda row: (row.user_id, row.buyer)):
        add_figures(
            totals.setdefault(user_id, {}), day_figures((row._mapping for row in lines), rules.get(user_id, []))
        )
    for user_id, figures in totals.items():
        rows_out = [_row(user_id, key, figures[key]) for key in sorted(figures) if figures[key]]
        if rows_out:
            connection.execute(insert(t.revenue_days), rows_out)
