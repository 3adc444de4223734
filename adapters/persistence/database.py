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
