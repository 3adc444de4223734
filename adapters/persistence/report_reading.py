"""What every report query shares: one connection per report being read, the account's source rules joined
on each row's recorded source, and a date range as a condition."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, literal, select

from adapters.persistence import tables as t
from adapters.persistence.revenue_days import stored_rules
from core.domain.source_rules import SourceRule, recorded_as


def in_range(column: Any, since: datetime | None, until: datetime | None) -> Any:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return and_(*conditions) if conditions else literal(True)


# The account's source rule of each row's recorded source, joined by `with_rules`: a report reads
# `coalesce(rule.source, source)` as the source the creator named (see core/domain/source_rules.py).
RULE = t.source_rules.alias("rule")


def with_rules(table: Any, source: Any, account_id: int) -> tuple[Any, Any]:
    """`table` joined with the account's rules on its recorded source, and the rule's columns."""
    return table.outerjoin(RULE, and_(RULE.c.user_id == account_id, RULE.c.match == source)), RULE.c


def _refunded() -> Any:
    return (
        select(func.coalesce(func.sum(t.refunds.c.amount), 0))
        .where(t.refunds.c.purchase_id == t.purchases.c.id)
        .scalar_subquery()
    )


class ReportReading:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Per thread (and per asyncio task): the connection of the report being read, if one is.
        self._current: ContextVar[Connection | None] = ContextVar(f"report_connection_{id(self)}", default=None)
        # And what its queries looked up once for the whole reading (the source rules, a range's whole days).
        self._looked_up: ContextVar[dict[Any, Any] | None] = ContextVar(f"report_lookups_{id(self)}", default=None)

    @contextmanager
    def reading(self) -> Iterator[None]:
        if self._current.get() is not None:
            yield
            return
        with self._engine.connect() as connection:
            token, lookups = self._current.set(connection), self._looked_up.set({})
            try:
                yield
            finally:
                self._looked_up.reset(lookups)
                self._current.reset(token)

    def _once(self, key: tuple[Any, ...], look_up: Callable[[], Any]) -> Any:
        """`look_up()`, made once per reading: a drill-down's tables all need the rules and the range's days."""
        found = self._looked_up.get()
        if found is None:
            return look_up()
        if key not in found:
            found[key] = look_up()
        return found[key]

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        current = self._current.get()
        if current is not None:
            yield current
            return
        with self._engine.connect() as connection:
            yield connection

    @staticmethod
    def _day(value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    def _source_rules(self, account_id: int) -> list[SourceRule]:
        def look_up() -> list[SourceRule]:
            with self._connect() as connection:
                return stored_rules(connection, account_id).get(account_id, [])

        return list(self._once(("rules", account_id), look_up))

    def _recorded_as(self, account_id: int, source: str) -> list[str]:
        """The recorded sources a report shows as `source`: filtering on them keeps the source index in use."""
        return recorded_as(self._source_rules(account_id), source)
