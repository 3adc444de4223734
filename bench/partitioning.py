"""What native partitioning of the raw events table by month costs and saves, on PostgreSQL at 1M+ rows.

    .venv/bin/python -m bench.partitioning                    # 12 months x 100,000 events
    .venv/bin/python -m bench.partitioning --per-month 250000

In a database of its own (dropped at the end), two tables with the columns and indexes of `events`
(adapters/persistence/tables/tracking.py; without the foreign keys, which both would carry alike): `events` as today,
and `events_by_month`, partitioned by range of `occurred_at`, one partition per month. PostgreSQL cannot
enforce a unique constraint that leaves out the partition key, so the partitioned table's is
(site_id, client_event_id, occurred_at): a repeat of a client event id in another month is no longer refused
by the table (today the pipeline checks `events` before it stores, so the check would move there).

Timed, each the median of `--repeat` runs: filling both with the same rows; 1,000 single-row inserts, one
transaction each (the pipeline's shape); one site's last 30 days counted (a report's read); creating next
month's partition; retention: deleting the oldest month's rows against detaching and dropping its partition.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, create_engine, text

from tests.production import own_postgres_database

MONTHS = 12
SITES = 200
COLUMNS = """
    id bigint NOT NULL,
    site_id bigint NOT NULL,
    visitor_id bigint NOT NULL,
    session_id bigint,
    client_event_id varchar(64) NOT NULL,
    kind varchar(20) NOT NULL,
    url text NOT NULL,
    referrer text,
    title varchar(300),
    occurred_at timestamptz NOT NULL
"""
# The rows: `per_month` events in each of MONTHS months of 2025, spread over SITES sites.
FILL = """
INSERT INTO {table} (id, site_id, visitor_id, session_id, client_event_id, kind, url, referrer, occurred_at)
SELECT n, n % {sites}, n / 3, n / 2, md5(n::text), 'pageview',
       'https://example.com/courses/p' || (n % 40) || '?utm_source=youtube', 'https://www.google.com/',
       timestamptz '2025-01-01 00:00:00+00' + ((n - 1) / {per_month}) * interval '1 month'
           + ((n - 1) % {per_month}) * (interval '28 days' / {per_month})
FROM generate_series(1, {rows}) AS n
"""


def _timed(engine: Engine, statement: Callable[[Connection], object]) -> float:
    with engine.begin() as connection:
        started = time.perf_counter()
        statement(connection)
        return (time.perf_counter() - started) * 1000


def create_tables(connection: Connection) -> None:
    connection.execute(text(f"CREATE TABLE events ({COLUMNS}, PRIMARY KEY (id), UNIQUE (site_id, client_event_id))"))
    connection.execute(text("CREATE INDEX ix_events_site_occurred ON events (site_id, occurred_at)"))
    connection.execute(text("CREATE INDEX ix_events_visitor ON events (visitor_id)"))
    connection.execute(
        text(
            f"CREATE TABLE events_by_month ({COLUMNS}, PRIMARY KEY (id, occurred_at), "
            "UNIQUE (site_id, client_event_id, occurred_at)) PARTITION BY RANGE (occurred_at)"
        )
    )
    connection.execute(text("CREATE INDEX ix_events_by_month_site_occurred ON events_by_month (site_id, occurred_at)"))
    connection.execute(text("CREATE INDEX ix_events_by_month_visitor ON events_by_month (visitor_id)"))
    for month in range(1, MONTHS + 1):
        connection.execute(text(_partition(2025, month)))


def _partition(year: int, month: int) -> str:
    following = (year + month // 12, month % 12 + 1)
    return (
        f"CREATE TABLE events_{year}_{month:02d} PARTITION OF events_by_month "
        f"FOR VALUES FROM ('{year}-{month:02d}-01 00:00+00') TO ('{following[0]}-{following[1]:02d}-01 00:00+00')"
    )


def _inserts(engine: Engine, table: str, first_id: int, count: int = 1000) -> float:
    """Milliseconds per single-row insert, each in its own transaction, into the newest month."""
    statement = text(
        f"INSERT INTO {table} (id, site_id, visitor_id, client_event_id, kind, url, occurred_at) "
        "VALUES (:id, :id % 200, :id, md5(CAST(:id AS text)), 'pageview', 'https://example.com/', "
        "timestamptz '2025-12-20 12:00+00' + :id * interval '1 millisecond')"
    )
    started = time.perf_counter()
    for n in range(first_id, first_id + count):
        with engine.begin() as connection:
            connection.execute(statement, {"id": n})
    return (time.perf_counter() - started) * 1000 / count


def _recent_count(table: str) -> Callable[[Connection], object]:
    return lambda connection: connection.execute(
        text(
            f"SELECT count(*), count(DISTINCT visitor_id) FROM {table} "
            "WHERE site_id = 7 AND occurred_at >= timestamptz '2025-12-01 00:00+00'"
        )
    ).one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-month", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    rows = args.per_month * MONTHS
    print(f"{datetime.now(UTC):%H:%M} UTC, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    with own_postgres_database(args.postgres) as url:
        engine = create_engine(url)
        with engine.begin() as connection:
            create_tables(connection)
        fill = {"sites": SITES, "per_month": args.per_month, "rows": rows}
        for table in ("events", "events_by_month"):
            took = _timed(engine, lambda c, table=table: c.execute(text(FILL.format(table=table, **fill))))
            with engine.connect() as connection:
                connection.execute(text(f"ANALYZE {table}"))
                size = connection.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar_one()
                if table == "events_by_month":
                    size = connection.execute(
                        text(
                            "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                            "WHERE inhparent = 'events_by_month'::regclass"
                        )
                    ).scalar_one()
            print(f"{table:<16} filled with {rows:,} rows in {took / 1000:.1f} s, {int(size) / 2**20:.0f} MiB")
        for table, first in (("events", rows + 1), ("events_by_month", rows + 1)):
            per_insert = statistics.median(_inserts(engine, table, first + 1000 * n) for n in range(args.repeat))
            print(f"{table:<16} single-row insert, own transaction: {per_insert:.2f} ms (median of {args.repeat})")
        for table in ("events", "events_by_month"):
            _timed(engine, _recent_count(table))  # warm
            read = statistics.median(_timed(engine, _recent_count(table)) for _ in range(args.repeat * 4))
            print(f"{table:<16} one site's last month counted: {read:.1f} ms (median of {args.repeat * 4})")
        create = _timed(engine, lambda c: c.execute(text(_partition(2026, 1))))
        print(f"events_by_month  next month's partition created: {create:.1f} ms")
        delete = _timed(
            engine,
            lambda c: c.execute(text("DELETE FROM events WHERE occurred_at < timestamptz '2025-02-01 00:00+00'")),
        )
        drop = _timed(
            engine,
            lambda c: (
                c.execute(text("ALTER TABLE events_by_month DETACH PARTITION events_2025_01")),
                c.execute(text("DROP TABLE events_2025_01")),
            ),
        )
        print(
            f"retention, the oldest month ({args.per_month:,} rows): DELETE {delete:.0f} ms (and the dead rows "
            f"left for VACUUM) against DETACH + DROP {drop:.1f} ms"
        )
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
        engine.dispose()


if __name__ == "__main__":
    main()
