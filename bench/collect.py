"""Server time of the collect endpoint (POST /t/e): median and p95 over N page views, through the real
Flask app and ingestion pipeline (in-process WSGI, no network), on SQLite and, when reachable, PostgreSQL.

Usage: python bench/collect.py [--events 2000] [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from adapters.persistence.migrate import upgrade
from coursesignal.container import build_app, create_container
from coursesignal.settings import Settings

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 Chrome/130 Safari/537.36"
SOURCES = ["utm_source=youtube&utm_medium=video", "utm_source=ig", "utm_source=newsletter&utm_medium=email", ""]


def run(database_url: str, events: int, instance: Path) -> list[float]:
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
    accounts.ensure_account("bench@example.com")
    site = accounts.add_site("bench@example.com", ["example.com"])
    client = build_app(settings, container).test_client()
    timings = []
    for n in range(events):
        visitor = f"visitor{n % (events // 4 or 1):06d}"
        body = json.dumps(
            {
                "s": site.public_key,
                "n": "pageview",
                "i": uuid.uuid4().hex,
                "v": visitor,
                "u": f"https://example.com/p{n % 7}?{SOURCES[n % 4]}",
                "r": None,
                "t": "Page",
            }
        )
        started = time.perf_counter()
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
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 204, response.data
    container.gateways.engine().dispose()
    return timings


def report(name: str, timings: list[float]) -> None:
    ordered = sorted(timings)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(f"collect {name:<10} events={len(timings)} median={statistics.median(ordered):.2f} ms p95={p95:.2f} ms")


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
