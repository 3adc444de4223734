"""The benchmark's dataset: what bench/dataset.py writes in bulk is what the repositories' rebuilds make of the
same rows, for a generated level and (PostgreSQL) for a level copied in SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from adapters.persistence import tables as t
from adapters.persistence.database import create_database_engine
from adapters.persistence.revenue_days import rebuild_revenue_days
from adapters.persistence.visitor_counts import rebuild_visitor_counts
from bench.dataset import generate, multiply


def _kept_and_rebuilt(engine: Engine) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    tables = (t.revenue_days, t.visitor_counts)
    with engine.connect() as connection:
        kept = {table.name: sorted(tuple(row) for row in connection.execute(select(table))) for table in tables}
        rebuild_visitor_counts(connection)
        rebuild_revenue_days(connection)
        rebuilt = {table.name: sorted(tuple(row) for row in connection.execute(select(table))) for table in tables}
        connection.rollback()
    return kept, rebuilt


def test_a_generated_and_a_copied_level_hold_the_counts_and_figures_a_rebuild_makes(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        counts = generate(engine, 3000, progress=lambda _: None)
        assert counts["purchases"] > 10
        kept, rebuilt = _kept_and_rebuilt(engine)
        assert kept == rebuilt
        assert kept["revenue_days"]
        if engine.dialect.name == "postgresql":
            multiply(engine, 3, progress=lambda _: None)
            kept, rebuilt = _kept_and_rebuilt(engine)
            assert kept == rebuilt
            with engine.connect() as connection:
                purchases = connection.execute(select(t.purchases.c.id)).all()
            assert len(purchases) == 3 * counts["purchases"]
    finally:
        engine.dispose()
