"""Engines for PostgreSQL (production) and SQLite (the embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, begin transactions (see _begin_immediately).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the web process read while the worker thread or the CLI writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Writers queue behind one another on SQLite; waiting a while beats failing a request.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


WRITE_TRANSACTION = "coursesignal_write_transaction"


def _begin(connection: Any) -> None:
    # A unit of work takes the write lock when its transaction starts, not at its first write: two
    # requests that read then write the same visitor are serialized instead of one silently overwriting
    # the other. Read-only connections (reports) begin deferred and never wait for writers.
    immediate = connection.get_execution_options().get(WRITE_TRANSACTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_database_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _tune_sqlite)
        event.listen(engine, "begin", _begin)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # JIT compilation pays off for long analytical scans, not for our report queries of a few milliseconds,
    # where PostgreSQL's cost estimate can still trigger it and add tens of milliseconds to each one.
    return create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"connect_timeout": 5, "options": "-c jit=off"},
    )


def create_collect_engine(engine: Engine) -> Engine:
    """The engine the collect endpoint's inbox writes inbound events with (adapters/persistence/inbox.py).

    On PostgreSQL, its own pool in autocommit, so storing a group of events is one statement and one round
    trip. The commit is asynchronous (`synchronous_commit=off`, for this pool only): a 204 means the row is
    committed in PostgreSQL, so it survives a crash of the app process or of the worker, and reaches the
    disk with the WAL writer's next flush (at most 3 x wal_writer_delay, 0.6 s by default): only a crash of
    the database server or the machine within that time can lose it. Waiting for the flush cost 4.6 ms of
    the 7 ms an insert took on a busy machine (docs/operations.md). No ping on checkout (a second round trip):
    a connection the server dropped fails its insert, and the inbox tries once more on a new one. On SQLite,
    the one engine.
    """
    if engine.dialect.name != "postgresql":
        return engine
    return create_engine(
        engine.url,
        isolation_level="AUTOCOMMIT",
        # The inbox writes one group at a time per process: one connection, and one more while a dropped
        # one is replaced.
        pool_size=1,
        max_overflow=1,
        connect_args={"connect_timeout": 5, "options": "-c jit=off -c synchronous_commit=off"},
    )
