"""Report speed: p50 and p95 of the sources report, the summary and the drill-down, per data size and database.

    .venv/bin/python -m bench.reports                          # 100K and 1M events, PostgreSQL and SQLite
    .venv/bin/python -m bench.reports --events 100000 --database postgresql --explain
    .venv/bin/python -m bench.reports --events 100000 --database postgresql --source-rules
                                                               # each report also with creator source rules
    .venv/bin/python -m bench.reports --ten-million            # adds the 10M level (generating it takes ~25 min
                                                               # on PostgreSQL on a quiet 2-core machine, hours
                                                               # on SQLite or on a busy machine)

Each level's data is generated once (bench/dataset.py, seeded) into its own database, kept for the next run:
PostgreSQL databases named coursesignal_bench_<events> (COURSESIGNAL_BENCH_POSTGRES_URL names the server),
SQLite files in bench/.data/. Timings go through the Reports service, exactly what the API calls.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url

from adapters.persistence import tables as t
from adapters.persistence.accounts import SqlSourceRules
from adapters.persistence.database import create_database_engine
from adapters.persistence.migrate import upgrade
from adapters.persistence.queries import SqlReportQueries
from bench.dataset import END, generate, multiply
from core.domain.attribution import Model
from core.domain.channels import Channel
from core.domain.reports import Grouping, ReportRange
from core.domain.source_rules import SourceRule
from core.services.reports import Reports

POSTGRES_URL = os.environ.get(
    "COURSESIGNAL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DATA = Path(__file__).parent / ".data"


class _At:
    def now(self) -> Any:
        return END


def database_url(database: str, events: int, copies: int = 1) -> str:
    """Where the level's data lives (bench/page_load.py serves the app over it)."""
    if database == "postgresql":
        name = f"coursesignal_bench_{events}" + (f"x{copies}" if copies > 1 else "")
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    return f"sqlite:///{DATA / f'bench-{events}.db'}"


def prepared_copies(events: int, copies: int) -> tuple[Engine, int]:
    """PostgreSQL: the level `events` generated once, then copied `copies` times over in SQL (a level ten times
    as big in minutes instead of the hours generating it takes on a busy 2-core machine)."""
    base, account = prepared("postgresql", events)
    base.dispose()
    name = f"coursesignal_bench_{events}x{copies}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}_loading" TEMPLATE "coursesignal_bench_{events}"'))
    admin.dispose()
    if not exists:
        started = time.perf_counter()
        print(f"copying the {events:,}-event level {copies} times on postgresql...")
        loading = create_database_engine(database_url("postgresql", events, copies) + "_loading")
        multiply(loading, copies)
        loading.dispose()
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}_loading" RENAME TO "{name}"'))
        admin.dispose()
        print(f"  copied in {time.perf_counter() - started:.0f} s")
    return create_database_engine(database_url("postgresql", events, copies)), account


def _postgres_engine(events: int) -> Engine:
    name = f"coursesignal_bench_{events}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return create_database_engine(database_url("postgresql", events))


def _sqlite_engine(events: int) -> Engine:
    DATA.mkdir(exist_ok=True)
    return create_database_engine(database_url("sqlite", events))


def prepared(database: str, events: int) -> tuple[Engine, int]:
    """The level's database, generated on first use; returns it and the benchmark account's id."""
    engine = _postgres_engine(events) if database == "postgresql" else _sqlite_engine(events)
    upgrade(engine)
    with engine.connect() as connection:
        account = connection.execute(select(t.users.c.id).where(t.users.c.email == "bench@example.com")).scalar()
    if account is None:
        started = time.perf_counter()
        print(f"generating {events:,} events on {database}...")
        counts = generate(engine, events)
        print(f"  generated {counts} in {time.perf_counter() - started:.0f} s")
        return prepared(database, events)
    return engine, int(account)


def cases(reports: Reports, account: int, top_source: str) -> dict[str, Callable[[], Any]]:
    """Every report a creator opens (sources, summary, drill-down) over 30 days, 90 days and all time, under
    both models; and the recent purchases."""
    ranges = (ReportRange.LAST_30_DAYS, ReportRange.LAST_90_DAYS, ReportRange.ALL_TIME)
    found: dict[str, Callable[[], Any]] = {}
    for period in ranges:
        for model in Model:
            found[f"sources {period} {model}"] = partial(reports.sources, account, period, model)
    for period in ranges:
        found[f"sources {period} by campaign"] = partial(
            reports.sources, account, period, Model.FIRST_TOUCH, group=Grouping.CAMPAIGN
        )
    for period in ranges:
        found[f"summary {period}"] = partial(reports.summary, account, period)
    for period in ranges:
        for model in Model:
            found[f"drill-down {top_source} {period} {model}"] = partial(
                reports.source_detail, account, top_source, period, model
            )
    found["recent purchases"] = partial(reports.recent_purchases, account, 50)
    return found


def rules_for(reports: Reports, account: int) -> list[SourceRule]:
    """Creator rules touching the biggest sources, as a creator would write them: the top source renamed, the
    next two merged into it, one moved to another channel, and a few for sources that never came."""
    lines = reports.sources(account, ReportRange.ALL_TIME, Model.FIRST_TOUCH).lines
    top, *others = [line.label for line in lines]
    rules = [SourceRule(top, f"{top} (renamed)"), SourceRule(others[2], others[2], Channel.AFFILIATES)]
    rules += [SourceRule(name, f"{top} (renamed)") for name in others[:2]]
    rules += [SourceRule(f"never-seen-{n}", "Elsewhere") for n in range(20)]
    return rules


def measure(call: Callable[[], Any], iterations: int) -> tuple[float, float]:
    for _ in range(3):
        call()
    timings = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, round(0.95 * len(timings)) - 1)]


def explain(engine: Engine, call: Callable[[], Any]) -> None:
    """Print the plan of every statement one report runs, with the parameters it ran with."""
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    call()
    event.remove(engine, "before_cursor_execute", capture)
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF) " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    )
    with engine.connect() as connection:
        for statement, parameters in statements:
            print("    SQL:", " ".join(statement.split())[:300])
            for row in connection.exec_driver_sql(prefix + statement, parameters):
                print("     ", " | ".join(str(col) for col in row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, action="append", help="a level (repeatable); default 100000 and 1000000")
    parser.add_argument("--ten-million", action="store_true", help="add the 10M level")
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="PostgreSQL: also measure each level copied this many times over (--events 1000000 --copies 10: 10M)",
    )
    parser.add_argument("--database", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--explain", action="store_true", help="print each query's plan")
    parser.add_argument(
        "--source-rules", action="store_true", help="also measure each report under creator source rules"
    )
    args = parser.parse_args()
    levels = args.events or [100_000, 1_000_000]
    if args.ten_million:
        levels.append(10_000_000)
    databases = ["postgresql", "sqlite"] if args.database == "both" else [args.database]
    print(f"{'database':<11}{'events':>12}  {'report':<42}{'p50 ms':>9}{'p95 ms':>9}")
    runs: list[tuple[str, int, Callable[[], tuple[Engine, int]]]] = []
    for events in levels:
        for database in databases:
            if args.copies > 1 and database == "postgresql":
                runs.append((database, events * args.copies, partial(prepared_copies, events, args.copies)))
            else:
                runs.append((database, events, partial(prepared, database, events)))
    for database, events, prepare in runs:
        engine, account = prepare()
        reports = Reports(SqlReportQueries(engine), _At())
        top = reports.sources(account, ReportRange.ALL_TIME, Model.FIRST_TOUCH).lines[0].label
        for name, call in cases(reports, account, top).items():
            p50, p95 = measure(call, args.iterations)
            print(f"{database:<11}{events:>12,}  {name:<42}{p50:>9.1f}{p95:>9.1f}", flush=True)
            if args.explain:
                explain(engine, call)
        if args.source_rules:
            rules = rules_for(reports, account)
            with engine.begin() as connection:
                SqlSourceRules(connection).replace(account, rules)
            try:
                renamed = f"{top} (renamed)"
                for name, call in cases(reports, account, renamed).items():
                    p50, p95 = measure(call, args.iterations)
                    label = f"{name} +{len(rules)} rules"
                    print(f"{database:<11}{events:>12,}  {label:<42}{p50:>9.1f}{p95:>9.1f}", flush=True)
                    if args.explain:
                        explain(engine, call)
            finally:
                with engine.begin() as connection:
                    SqlSourceRules(connection).replace(account, [])
        engine.dispose()


if __name__ == "__main__":
    main()
