"""The collect path's parts, in process: what validating an event and writing a group of events cost in CPU.

`bench.collect` measures the whole path under gunicorn against a no-op; this measures the two parts that
are collect's own, one at a time, so a change to either can be judged on its own:

- validation: `CollectEventSchema.load` against the compiled fast path collect takes (`_load_valid`), on a
  page view as the tracker sends it;
- the inbox's write on PostgreSQL (`GroupCommitInbox._write`, one statement per group) by group size: the
  CPU of this process's thread and of the PostgreSQL server's processes, per event; then two processes
  writing groups of 3 at once, as gunicorn's two workers do (PostgreSQL's CPU per event).

Usage: python -m bench.collect_parts [--events 20000]
       [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import timeit
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select

from adapters.persistence import tables as t
from adapters.persistence.inbox import GroupCommitInbox
from adapters.persistence.migrate import upgrade
from adapters.web.collect import _load_valid, _schema
from bench.collect import cpu_seconds, postmaster_pid
from core.domain.events import EventKind, TrackerEvent
from coursesignal.container import create_container
from coursesignal.settings import Settings
from tests.production import own_postgres_database

PAGE_VIEW = {
    "s": "Qm9vdHN0cmFwS2V5MDE",
    "n": "pageview",
    "i": "b1a2b3c000000123",
    "v": "visitor000123",
    "u": "https://example.com/p3?utm_source=youtube&utm_medium=video",
    "r": None,
}


def _validation() -> None:
    count = 20_000
    for name, load in (
        ("schema.load", lambda: _schema.load(PAGE_VIEW, unknown="exclude")),
        ("compiled", lambda: _load_valid(PAGE_VIEW)),
    ):
        best = min(timeit.repeat(load, number=count, repeat=5)) / count
        print(f"validation, {name:<11}: {best * 1e6:6.1f} us a page view")


def _event(n: int, now: datetime) -> TrackerEvent:
    return TrackerEvent(
        site_key="unused",
        client_event_id=f"b{uuid.uuid4().hex[:20]}",
        kind=EventKind.PAGEVIEW,
        visitor_key=f"visitor{n % 5000:06d}",
        url=f"https://example.com/p{n % 7}?utm_source=youtube",
        received_at=now,
        user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 Chrome/130 Safari/537.36",
        fingerprint="f" * 64,
    )


def _writes(database_url: str, events: int) -> None:
    settings = Settings(
        database_url=database_url,
        redis_url=None,
        base_url="http://bench",
        instance_path=Path(tempfile.mkdtemp(prefix="collect-parts-")),
        environment="test",
        secret_key="bench",  # noqa: S106 - a throwaway container for the benchmark
    )
    container = create_container(settings)
    engine = container.gateways.engine()
    upgrade(engine)
    accounts = container.services.accounts()
    for n in range(8):
        accounts.ensure_account(f"bench{n}@example.com")
        accounts.add_site(f"bench{n}@example.com", ["example.com"])
    with engine.connect() as connection:
        site_ids = list(connection.execute(select(t.sites.c.id)).scalars())
    inbox = GroupCommitInbox(engine)
    server = postmaster_pid()
    now = datetime.now(UTC)
    try:
        for size in (1, 4, 8, 32):
            groups = [
                [(site_ids[(g * size + n) % len(site_ids)], _event(g * size + n, now)) for n in range(size)]
                for g in range(max(2, events // size))
            ]
            inbox._write(groups[0])  # connected and prepared before the clock starts
            server_before = cpu_seconds(server) if server else 0.0
            mine_before = time.thread_time()
            for group in groups[1:]:
                inbox._write(group)
            mine = time.thread_time() - mine_before
            written = (len(groups) - 1) * size
            line = f"inbox write, groups of {size:>2}: this process {mine * 1e6 / written:5.1f} us an event"
            if server:
                line += f", PostgreSQL {(cpu_seconds(server) - server_before) * 1e6 / written:5.1f} us"
            print(line)
        _concurrent_writes(database_url, site_ids, events, server)
    finally:
        inbox.close()
        engine.dispose()


def _writer(database_url: str, site_ids: list[int], events: int, size: int) -> None:
    engine = create_engine(database_url)
    inbox = GroupCommitInbox(engine)
    now = datetime.now(UTC)
    try:
        for g in range(events // size):
            inbox._write([(site_ids[(g * size + n) % len(site_ids)], _event(g * size + n, now)) for n in range(size)])
    finally:
        inbox.close()
        engine.dispose()


def _concurrent_writes(database_url: str, site_ids: list[int], events: int, server: int | None) -> None:
    if server is None:
        return
    writers, size = 2, 3
    before = cpu_seconds(server)
    processes = [
        multiprocessing.Process(target=_writer, args=(database_url, site_ids, events, size)) for _ in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    written = writers * (events // size) * size
    print(
        f"inbox write, {writers} processes at once, groups of {size}: "
        f"PostgreSQL {(cpu_seconds(server) - before) * 1e6 / written:5.1f} us an event"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    _validation()
    with own_postgres_database(args.postgres) as database_url:
        _writes(database_url, args.events)


if __name__ == "__main__":
    main()
