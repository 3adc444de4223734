"""What every report query shares: one connection per report being read, the account's source rules joined
on each row's recorded source, and a date range as a condition."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, literal, select

from adapters.persistence import tables as t
from core.domain.channels import Channel
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

    @contextmanager
    def reading(self) -> Iterator[None]:
        if self._current.get() is not None:
            yield
            return
        with self._engine.connect() as connection:
            token = self._current.set(connection)
            try:
                yield
            finally:
                self._current.reset(token)

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
        r = t.source_rules.c
        with self._connect() as connection:
            rows = connection.execute(select(r.match, r.source, r.channel).where(r.user_id == account_id))
            return [SourceRule(match, name, Channel(channel) if channel else None) for match, name, channel in rows]

    def _recorded_as(self, account_id: int, source: str) -> list[str]:
        """The recorded sources a report shows as `source`: filtering on them keeps the source index in use."""
        return recorded_as(self._source_rules(account_id), source)
