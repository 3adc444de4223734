"""The inbox: collect's one write, shared by the requests that arrive together (group commit).

A request thread that finds no write under way becomes the leader: it writes every event waiting at that
moment in one statement (PostgreSQL: one round trip on the inbox's own connection), then wakes the threads
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

import psycopg
from psycopg import pq
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
        self._postgresql = _PostgresqlConnection(engine) if engine.dialect.name == "postgresql" else None
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

    def close(self) -> None:
        """Close the inbox's own database connection (PostgreSQL); a later write opens another."""
        if self._postgresql is not None:
            self._postgresql.close()

    def _write(self, events: Sequence[tuple[int, TrackerEvent]]) -> list[bool]:
        if self._postgresql is not None:
            return self._write_postgresql(self._postgresql, events)
        with self._engine.connect().execution_options(**{WRITE_TRANSACTION: True}) as connection:
            stored = [
                connection.execute(_insert_one(), _row(*event)).scalar_one_or_none() is not None for event in events
            ]
            connection.commit()
        return stored

    @staticmethod
    def _write_postgresql(connection: _PostgresqlConnection, events: Sequence[tuple[int, TrackerEvent]]) -> list[bool]:
        rows = []
        for position, (site_id, event) in enumerate(events):
            row = _row(site_id, event)
            row["received_at"] = event.received_at.isoformat()  # timezone-aware: PostgreSQL reads the offset
            row["position"] = position
            rows.append(row)
        payload = json.dumps(rows).encode()
        try:
            returned = connection.insert(payload)
        except _DroppedConnection:
            # A connection the server had dropped (a restart, a cut): nothing pings it before a write, so try
            # once more on a new one. Storing is keyed by the client's event id, so even a first try that was
            # stored is stored once.
            log.info("inbox: the database connection was dead; trying once more on a new one")
            returned = connection.insert(payload)
        stored = set(returned)
        answers = []
        for site_id, event in events:
            key = (site_id, event.client_event_id)
            answers.append(key in stored)
            stored.discard(key)  # the same event twice in one write: stored once, the second is a repeat
        return answers


class _DroppedConnection(InboxUnavailable):
    """The connection had been dropped by the server."""


class _PostgresqlConnection:
    """The inbox's own connection to PostgreSQL, one per process (one write at a time needs no pool), with
    the insert prepared on it once and run through libpq: nothing for SQLAlchemy to check out, compile or
    wrap, nor for psycopg to look up, on the hottest write there is (a third of the CPU of the same statement
    through a pooled SQLAlchemy connection).

    Autocommit, so the statement is the transaction; the commit is asynchronous (`synchronous_commit=off`,
    on this connection only): a 204 means the row is committed in PostgreSQL, so it survives a crash of the
    app process or of the worker, and reaches the disk with the WAL writer's next flush (at most 3 x
    wal_writer_delay, 0.6 s by default): only a crash of the database server or the machine within that
    time can lose it. Waiting for the flush cost 4.6 ms of the 7 ms an insert took on a busy machine
    (docs/operations.md). No ping before a write (a second round trip): a connection the server dropped fails
    its write, and the inbox tries once more on a new one."""

    STATEMENT = b"coursesignal_inbox_insert"

    def __init__(self, engine: Engine) -> None:
        _args, parameters = engine.dialect.create_connect_args(engine.url)
        parameters.pop("context", None)  # SQLAlchemy's type adapters: the statement's text needs none
        self._parameters = {
            **parameters,
            "autocommit": True,
            "connect_timeout": 5,
            "options": "-c jit=off -c synchronous_commit=off",
        }
        self._connection: psycopg.Connection[Any] | None = None

    def insert(self, payload: bytes) -> list[tuple[int, str]]:
        """Run the insert on `payload` (the JSON rows); the (site id, client event id) of the rows stored."""
        connection = self._connection or self._connect()
        try:
            result = connection.pgconn.exec_prepared(self.STATEMENT, [payload])
        except psycopg.Error as error:  # libpq gave no result at all (a socket lost while sending, say)
            problem = str(error)
        else:
            if result.status == pq.ExecStatus.TUPLES_OK:
                return [
                    (int(result.get_value(row, 0) or 0), (result.get_value(row, 1) or b"").decode())
                    for row in range(result.ntuples)
                ]
            problem = (result.error_message or connection.pgconn.error_message).decode(errors="replace").strip()
        if connection.pgconn.status == pq.ConnStatus.BAD:
            self.close()
            raise _DroppedConnection(f"the connection had been dropped: {problem}")
        raise InboxUnavailable(f"the database could not store the events: {problem}")

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            connection = psycopg.connect(**self._parameters)
        except psycopg.Error as error:
            raise InboxUnavailable("the database could not be reached") from error
        prepared = connection.pgconn.prepare(self.STATEMENT, _insert_many_postgresql().encode())
        if prepared.status != pq.ExecStatus.COMMAND_OK:
            problem = (prepared.error_message or b"").decode(errors="replace").strip()
            connection.close()
            raise InboxUnavailable(f"the insert could not be prepared: {problem}")
        self._connection = connection
        return connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


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
    its site's row as in `_insert_one`. The events travel as one JSON parameter, $1 (a list of rows, each
    with its position): PostgreSQL reads it with `json_to_recordset`, so the statement is the same text for
    any number of events and is prepared once per connection. The stored rows come back."""
    names = ["site_id", *INBOUND_FIELDS, "kind"]
    dialect = postgresql.dialect()
    columns = ", ".join(f"{name} {t.inbound_events.c[name].type.compile(dialect)}" for name in names)
    return (
        f"INSERT INTO inbound_events (site_id, user_id, {', '.join(names[1:])}) "  # noqa: S608 - our own names  # nosec B608
        f"SELECT sites.id, sites.user_id, {', '.join(f'v.{name}' for name in names[1:])} "
        f"FROM json_to_recordset(CAST($1 AS json)) AS v({columns}, position integer) "
        "JOIN sites ON sites.id = v.site_id ORDER BY v.position "
        "ON CONFLICT (site_id, client_event_id) DO NOTHING RETURNING site_id, client_event_id"
    )
