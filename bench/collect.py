"""The collect path, on SQLite and, when reachable, PostgreSQL, through the real Flask app (in-process WSGI,
no network):

- request path: server time of POST /t/e (validation, bot and rate checks, the site-key cache, the insert
  into inbound_events), median and p95 over N page views, with the pipeline job held back so it does not
  compete for the database;
- pipeline: the job processing those N waiting events (visitor, session, rollups, identity facts), events/s;
- together: the request path again with the embedded default's in-process worker draining meanwhile.

Usage: python bench/collect.py [--events 2000] [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from dependency_injector import providers
from sqlalchemy import Engine, create_engine, event, text

from adapters.persistence.migrate import upgrade
from coursesignal.container import build_app, create_container
from coursesignal.settings import Settings

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 Chrome/130 Safari/537.36"
SOURCES = ["utm_source=youtube&utm_medium=video", "utm_source=ig", "utm_source=newsletter&utm_medium=email", ""]


class HeldJobs:
    """A job queue that keeps what it is given, so the request path is timed on its own."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[int | str, ...]]] = []

    def enqueue(self, task: str, *args: int | str) -> None:
        self.jobs.append((task, args))


@dataclass
class Timings:
    wall_ms: list[float] = field(default_factory=list)
    # This process's CPU time per request: much less sensitive than the wall clock to a busy machine.
    cpu_ms: list[float] = field(default_factory=list)


def post_events(client, site_key: str, events: int, offset: int) -> Timings:  # type: ignore[no-untyped-def]
    timings = Timings()
    for n in range(offset, offset + events):
        visitor = f"visitor{n % (events // 4 or 1):06d}"
        body = json.dumps(
            {
                "s": site_key,
                "n": "pageview",
                "i": uuid.uuid4().hex,
                "v": visitor,
                "u": f"https://example.com/p{n % 7}?{SOURCES[n % 4]}",
                "r": None,
                "t": "Page",
            }
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        # One documentation-range address per visitor (only in the WSGI environ; nothing is sent anywhere),
        # as real traffic arrives, so the per-sender rate limit sees many senders.
        address = f"198.51.{100 + (n // 250) % 2}.{n % 250}"
        response = client.post(
            "/t/e",
            data=body,
            content_type="text/plain",
            headers={"User-Agent": BROWSER},
            environ_base={"REMOTE_ADDR": address},
        )
        timings.wall_ms.append((time.perf_counter() - started) * 1000)
        timings.cpu_ms.append((time.process_time() - cpu_started) * 1000)
        assert response.status_code == 204, response.data
    return timings


@dataclass
class Figures:
    request_path: Timings
    statements_per_request: float
    throughput: float
    together: Timings


def _count_statements(engine: Engine, counter: list[int]) -> None:
    def count(*_: object) -> None:
        counter[0] += 1

    event.listen(engine, "before_cursor_execute", count)


def run(database_url: str, events: int, instance: Path) -> Figures:
    """Request-path timings, pipeline throughput (events/s), request timings with the worker running."""
    settings = Settings(
        database_url=database_url,
        redis_url=None,
        base_url="http://bench",
        instance_path=instance,
        environment="test",
        secret_key="bench",  # noqa: S106 - a throwaway app for the benchmark
    )
    container = create_container(settings)
    upgrade(container.gateways.engine())
    accounts = container.services.accounts()
    account = accounts.ensure_account("bench@example.com")
    site = accounts.add_site("bench@example.com", ["example.com"])
    worker = container.gateways.job_queue()
    held = HeldJobs()
    container.gateways.job_queue.override(providers.Object(held))
    container.services.tracking.reset()  # built again, with the held queue
    client = build_app(settings, container).test_client()
    post_events(client, site.public_key, 10, 0)  # the site-key cache and the connection pools warm up
    statements = [0]
    for engine in {container.gateways.engine(), container.gateways.collect_engine()}:
        _count_statements(engine, statements)
    request_path = post_events(client, site.public_key, events, 10)
    per_request = statements[0] / events
    assert len(held.jobs) == events + 10

    tracking = container.services.tracking()
    started = time.perf_counter()
    processed = tracking.process_pending(account.id)
    throughput = processed / (time.perf_counter() - started)
    assert processed == events + 10, processed

    container.gateways.job_queue.reset_override()
    container.services.tracking.reset()
    together = post_events(client, site.public_key, events, events + 10)
    worker.wait_until_idle()
    assert tracking.backlog() == 0
    worker.stop()
    container.gateways.collect_engine().dispose()
    container.gateways.engine().dispose()
    return Figures(request_path, per_request, throughput, together)


def _timing(timings: Timings) -> str:
    ordered = sorted(timings.wall_ms)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    cpu = statistics.median(timings.cpu_ms)
    return f"median={statistics.median(ordered):.2f} ms p95={p95:.2f} ms (cpu median {cpu:.2f} ms)"


def report(name: str, figures: Figures) -> None:
    print(
        f"collect {name:<10} request path    events={len(figures.request_path.wall_ms)} "
        f"{_timing(figures.request_path)}, {figures.statements_per_request:.1f} SQL statements per request"
    )
    print(f"collect {name:<10} pipeline job    {figures.throughput:.0f} events/s")
    print(f"collect {name:<10} with the worker events={len(figures.together.wall_ms)} {_timing(figures.together)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report("sqlite", run(f"sqlite:///{folder}/bench.db", args.events, Path(folder)))
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"coursesignal_bench_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as error:  # a missing server only skips that line
            print(f"collect postgresql skipped: {error.__class__.__name__}")
            return
        try:
            url = admin.url.set(database=name).render_as_string(hide_password=False)
            report("postgresql", run(url, args.events, Path(folder)))
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
