"""Privacy work at scale: how long the retention job takes to delete old raw events, and one student's
export and erasure, on the benchmark dataset (a year of one creator's traffic, see bench/dataset.py), on
SQLite and, when reachable, PostgreSQL. Each run builds a throwaway database, since both change the data.

Usage: python -m bench.privacy [--events 100000] [--keep-days 180] [--postgres postgresql://...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from adapters.persistence import tables as t
from adapters.persistence.database import create_database_engine
from adapters.persistence.migrate import upgrade
from bench.dataset import END, generate
from coursesignal.container import create_container
from coursesignal.settings import Settings

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


class _At:
    def now(self):  # type: ignore[no-untyped-def]
        return END


def _count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def run(database_url: str, events: int, keep_days: int, instance: Path) -> None:
    from dependency_injector import providers

    engine = create_database_engine(database_url)
    upgrade(engine)
    generate(engine, events, progress=lambda _: None)
    engine.dispose()
    settings = Settings(
        database_url=database_url,
        redis_url=None,
        base_url="http://bench",
        instance_path=instance,
        environment="test",
        secret_key="bench",  # noqa: S106 - a throwaway app for the benchmark
    )
    container = create_container(settings)
    container.gateways.clock.override(providers.Object(_At()))
    container.config.event_retention_days.from_value(keep_days)
    engine = container.gateways.engine()
    privacy = container.services.privacy()
    with engine.connect() as connection:
        account_id, email = connection.execute(
            select(t.purchases.c.user_id, t.purchases.c.email)
            .where(t.purchases.c.attribution_status == "matched", t.purchases.c.email.is_not(None))
            .order_by(t.purchases.c.id)
            .limit(1)
        ).one()
    before = _count(engine, t.events)

    started = time.perf_counter()
    deleted = privacy.delete_expired_events()
    retention = time.perf_counter() - started
    started = time.perf_counter()
    export = privacy.export_person(account_id, email=email)
    exporting = time.perf_counter() - started
    started = time.perf_counter()
    report = privacy.erase_person(account_id, email=email)
    erasing = time.perf_counter() - started

    print(
        f"  events: {before:,}; older than {keep_days} days deleted: {deleted:,} in {retention:.2f} s "
        f"({deleted / retention if retention else 0:,.0f} rows/s)"
    )
    rows = sum(len(table) for table in export["tables"].values())
    print(f"  one student's export: {rows} rows in {exporting * 1000:.0f} ms")
    print(
        f"  their erasure: {report.visitors_erased} visitors, {report.purchases_detached} purchases detached, "
        f"{report.purchases_reattributed} attributed again, in {erasing * 1000:.0f} ms"
    )
    container.gateways.engine().dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--keep-days", type=int, default=180)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(f"SQLite, {args.events:,} events:")
        run(f"sqlite:///{folder}/bench-privacy.db", args.events, args.keep_days, Path(folder))
        name = f"coursesignal_bench_privacy_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as error:
            print(f"PostgreSQL skipped: {error.__class__.__name__}")
            return
        try:
            print(f"PostgreSQL, {args.events:,} events:")
            url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            run(url, args.events, args.keep_days, Path(folder))
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
