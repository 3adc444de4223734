"""The inbox: collect's one write, shared by the requests that arrive together (group commit).

A request thread that finds no write under way becomes the leader: it writes every event waiting at that
moment in one statement (PostgreSQL: one round trip), then wakes the threads
whose events it wrote. Events that arrive while a write is under way wait for the next one, which the first
of them leads. Alone, an event is written at once, as before; under load, one write carries as many events
as there are threads waiting, so the database does one insert and one commit for all of them and the
threads spend no time on their own statements. Nobody answers before its event is committed: a 204 still
means the row is in PostgreSQL (docs/operations.md, "What a 204 means").
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Engine, Insert, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from adapters.persistence import tables as t
from adapters.persistence.database import WRITE_TRANSACTION
from adapters.persistence.inbound_events import INBOUND_FIELDS
from core.domain.events import TrackerEvent
from core.ports.inbox import InboxUnavailable

log = logging.getLogger(__name__)

# A write's events at most: far above a process's threads, a bound for the statement's size all the same.
MAX_BATCH = 256


class _Waiting:
    """One event waiting to be written, and the thread waiting for it."""

    __slots__ = ("error", "event", "leads", "ready", "stored")

    def __init__(self, event: tuple[int, TrackerEvent]) -> None:
        self.event = event
        self.leads = False
        self.ready = threading.Lock()
        self.ready.acquire()  # released when the event is written, or when this thread is to lead
        self.stored = False
        self.error: BaseException | None = None


class GroupCommitInbox:
    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._writing = False

    def store(self, site_id: int, event: TrackerEvent) -> bool:
        mine = _Waiting((site_id, event))
        with self._lock:
            self._waiting.append(mine)
            leads, self._writing = not self._writing, True
        if not leads:
            mine.ready.acquire()
            leads = mine.leads
        if leads:
            self._lead(mine)
        if isinstance(mine.error, InboxUnavailable | SQLAlchemyError):
            raise InboxUnavailable("the database could not store the event") from mine.error
        if mine.error is not None:
            raise mine.error
        return mine.stored

    def _lead(self, mine: _Waiting) -> None:
        time.sleep(0)  # let threads about to store reach the queue first: one write for them too
        with self._lock:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
        try:
            for waiting, stored in zip(batch, self._write([w.event for w in batch]), strict=True):
                waiting.stored = stored
        except BaseException as error:  # every waiting thread answers for its event, whatever went wrong
            for waiting in batch:
                waiting.error = error
        finally:
            with self._lock:
                if self._waiting:
                    following = self._waiting[0]
                    following.leads = True
                    following.ready.release()
                else:
                    self._writing = False
            for waiting in batch:
                if waiting is not mine:
                    waiting.ready.release()

    def _write(self, events: Sequence[tuple[int, TrackerEvent]]) -> list[bool]:
        if self._engine.dialect.name == "postgresql":
            return self._write_postgresql(events)
        with self._engine.connect().execution_options(**{WRITE_TRANSACTION: True}) as connection:
            stored = [
                connection.execute(_insert_one(), _row(*event)).scalar_one_or_none() is not None for event in events
            ]
            connection.commit()
        return stored

    def _write_postgresql(self, events: Sequence[tuple[int, TrackerEvent]]) -> list[bool]:
        """One statement on the driver's own connection: nothing for SQLAlchemy to compile, wrap or look up on
        the hottest write there is (half the CPU of the same statement through a SQLAlchemy connection)."""
        rows = []
        for position, (site_id, event) in enumerate(events):
            row = _row(site_id, event)
            row["received_at"] = event.received_at.isoformat()  # timezone-aware: PostgreSQL reads the offset
            row["position"] = position
            rows.append(row)
        payload = (json.dumps(rows),)
        try:
            returned = self._execute_postgresql(payload)
        except _DroppedConnection:
            # A pooled connection the server had dropped (a restart, a cut): nothing pings it on checkout, so
            # try once more on a new one. Storing is keyed by the client's event id, so even a first try that
            # was stored is stored once.
            log.info("inbox: a pooled database connection was dead; trying once more on a new one")
            returned = self._execute_postgresql(payload)
        stored = set(returned)
        answers = []
        for site_id, event in events:
            key = (site_id, event.client_event_id)
            answers.append(key in stored)
            stored.discard(key)  # the same event twice in one write: stored once, the second is a repeat
        return answers

    def _execute_postgresql(self, payload: tuple[str]) -> list[tuple[int, str]]:
        driver_error = self._engine.dialect.loaded_dbapi.Error
        try:
            pooled = self._engine.raw_connection()  # autocommit, synchronous_commit=off: create_collect_engine
        except (driver_error, SQLAlchemyError) as error:  # no connection to be had
            raise InboxUnavailable("the database could not be reached") from error
        try:
            driver = pooled.driver_connection
            try:
                return [tuple(row) for row in driver.execute(_insert_many_postgresql(), payload).fetchall()]  # type: ignore[union-attr]
            except driver_error as error:
                if self._engine.dialect.is_disconnect(error, driver, None):
                    pooled.invalidate(error)
                    raise _DroppedConnection("the pooled connection had been dropped") from error
                raise InboxUnavailable("the database could not store the events") from error
        finally:
            pooled.close()


class _DroppedConnection(InboxUnavailable):
    """The pooled connection had been dropped by the server."""


def _row(site_id: int, event: TrackerEvent) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(event, name) for name in INBOUND_FIELDS}
    values["kind"] = event.kind.value
    values["site_id"] = site_id
    return values


@cache
def _insert_one() -> Insert:
    """One event's statement on SQLite (in process: a statement costs no round trip), built once.

    INSERT ... SELECT from the site's row: the account comes from the database, and a site deleted since the
    caller looked it up inserts nothing instead of breaking the foreign key. A repeat of a stored event
    (site, client event id) inserts nothing either, and returns no id."""
    i = t.inbound_events.c
    names = [*INBOUND_FIELDS, "kind"]
    source = select(t.sites.c.id, t.sites.c.user_id, *(bindparam(name, type_=i[name].type) for name in names)).where(
        t.sites.c.id == bindparam("site_id")
    )
    return (
        sqlite.insert(t.inbound_events)
        .from_select(["site_id", "user_id", *names], source)
        .on_conflict_do_nothing(index_elements=["site_id", "client_event_id"])
        .returning(i.id)
    )


@cache
def _insert_many_postgresql() -> str:
    """Any number of events in one statement and one round trip (PostgreSQL), each event's account read from
    its site's row as in `_insert_one`. The events travel as one JSON parameter (a list of rows, each with
    its position): PostgreSQL reads it with `json_to_recordset`, and the driver dumps one string instead of
    one array per column. The stored rows come back."""
    names = ["site_id", *INBOUND_FIELDS, "kind"]
    dialect = postgresql.dialect()
    columns = ", ".join(f"{name} {t.inbound_events.c[name].type.compile(dialect)}" for name in names)
    return (
        f"INSERT INTO inbound_events (site_id, user_id, {', '.join(names[1:])}) "  # noqa: S608 - our own names  # nosec B608
        f"SELECT sites.id, sites.user_id, {', '.join(f'v.{name}' for name in names[1:])} "
        f"FROM json_to_recordset(CAST(%s AS json)) AS v({columns}, position integer) "
        "JOIN sites ON sites.id = v.site_id ORDER BY v.position "
        "ON CONFLICT (site_id, client_event_id) DO NOTHING RETURNING site_id, client_event_id"
    )
