"""Dashboard page load in headless chromium: navigation start to the load event, all data shown.

    .venv/bin/python -m bench.page_load                         # 1M events, PostgreSQL and SQLite
    .venv/bin/python -m bench.page_load --events 100000 --database sqlite --iterations 30

The app is served as it runs for real: on PostgreSQL as production runs it (gunicorn, gthread, 2 processes x 8
threads, production mode, a Redis of the bench's own), on SQLite as `coursesignal run` serves the embedded
default (gunicorn, one process x 8 threads, jobs in process). It reads the benchmark database of
bench/reports.py (generated on first use, seeded by bench/dataset.py) with the clock at the dataset's "now"
(`pinned_app`, the production `build_app()` with that one change). A signed-in chromium (Debian's, through
Playwright's sync API; COURSESIGNAL_CHROMIUM names another) opens each page; after its load event the script
checks that the data is on the page (the report is rendered on the server, so at the load event it is all
there) and reads the Navigation Timing entry: `loadEventEnd` (from navigation start), and `responseStart` (time
to the first byte: the app's share).
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dependency_injector import providers
from flask import Flask
from sqlalchemy import update

from adapters.persistence import tables as t
from bench.collect import GUNICORN, REPO, _server, _wait_for_port
from bench.reports import _At, database_url, prepared
from core.domain.attribution import Model
from core.domain.reports import ReportRange
from coursesignal.container import build_app, create_container
from coursesignal.settings import Settings
from tests.private_services import PrivateRedis, free_port

CHROMIUM = os.environ.get("COURSESIGNAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812}}


# The embedded default's server, as `coursesignal run` sets it up (coursesignal/cli.py): one process, so the
# in-process job thread and SQLite see one another.
EMBEDDED = ["--worker-class", "gthread", "--workers", "1", "--threads", "8", "--timeout", "60"]


def pinned_app() -> Flask:
    """`build_app()` with the clock at the dataset's "now", its settings from the environment: what gunicorn
    serves here (`bench.page_load:pinned_app()`)."""
    settings = Settings.from_environ(load_dotenv=False)
    container = create_container(settings)
    container.gateways.clock.override(providers.Object(_At()))
    return build_app(settings, container)


@contextmanager
def serve(database: str, events: int) -> Iterator[tuple[str, str, str]]:
    """The app served over the level's database on a free local port (see the module's docstring); yields its
    base URL, a session cookie and the top source (for the drill-down page)."""
    engine, account = prepared(database, events)
    with engine.begin() as connection:
        connection.execute(update(t.users).where(t.users.c.id == account).values(email_verified_at=datetime.now(UTC)))
    engine.dispose()
    folder = Path(tempfile.mkdtemp(prefix="coursesignal-page-load-"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "COURSESIGNAL_ENV": "production",
        "COURSESIGNAL_DATABASE_URL": database_url(database, events),
        "COURSESIGNAL_SECRET_KEY": secrets.token_urlsafe(48),
        "COURSESIGNAL_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "COURSESIGNAL_BASE_URL": base_url,
        "COURSESIGNAL_INSTANCE_PATH": str(folder / "instance"),
        "COURSESIGNAL_LOG_LEVEL": "WARNING",  # the figures, not every request
    }
    with ExitStack() as stack:
        if database == "postgresql":
            redis = PrivateRedis(folder / "redis")
            redis.start()
            stack.callback(redis.close)
            environment["COURSESIGNAL_REDIS_URL"] = redis.url
        cookie, top = _signed_in(environment, account)
        server = [*(GUNICORN if database == "postgresql" else EMBEDDED), "--bind", f"127.0.0.1:{port}"]
        log = folder / "server.log"
        app = stack.enter_context(
            _server([str(Path(sys.executable).parent / "gunicorn"), *server, "bench.page_load:pinned_app()"],
                    environment, log)
        )  # fmt: skip
        _wait_for_port(port, app, log)
        yield base_url, cookie, top


def _signed_in(environment: dict[str, str], account: int) -> tuple[str, str]:
    """A session cookie for the account, signed with the served app's key, and its top source."""
    # Only the signing key and the database matter here: no Redis (the served app has its own).
    settings = replace(Settings.from_environ(environment, load_dotenv=False), redis_url=None)
    container = create_container(settings)
    container.gateways.clock.override(providers.Object(_At()))
    try:
        app = build_app(settings, container)
        client = app.test_client()
        session_version = container.services.accounts().get(account).session_version
        signed_in_at = int(container.gateways.clock().now().timestamp())
        with client.session_transaction() as session:
            # As a sign-in writes it (adapters/web/sessions.py): account, session version, sign-in time.
            session["_user_id"] = f"{account}:{session_version}:{signed_in_at}"
            session["cs_seen"] = signed_in_at
            session["cs_remember"] = False
        cookie = client.get_cookie("session")
        assert cookie is not None
        top = container.services.reports().sources(account, ReportRange.ALL_TIME, Model.FIRST_TOUCH).lines[0].label
        return cookie.value, top
    finally:
        container.gateways.job_queue().stop()
        container.unwire()
        container.gateways.engine().dispose()


def _timings(page: Any, url: str, shown: str) -> tuple[float, float]:
    page.goto(url, wait_until="load")
    if page.locator(shown).count() == 0:
        raise SystemExit(f"{url}: {shown!r} is not on the page after its load event")
    entry = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return [n.loadEventEnd, n.responseStart]; })()"
    )
    return float(entry[0]), float(entry[1])


def _percentiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    return statistics.median(values), values[max(0, round(0.95 * len(values)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, action="append", help="a level (repeatable); default 1000000")
    parser.add_argument("--database", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    levels = args.events or [1_000_000]
    databases = ["postgresql", "sqlite"] if args.database == "both" else [args.database]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'database':<11}{'events':>11}  {'page':<34}{'load p50':>9}{'load p95':>9}{'ttfb p50':>9}{'ttfb p95':>9}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for events in levels:
            for database in databases:
                with serve(database, events) as (base_url, cookie, top):
                    pages = {
                        "dashboard (30d, first touch)": ("/dashboard", "table.report-table tbody tr"),
                        "dashboard (all time, last touch)": (
                            "/dashboard?range=all&model=last_touch",
                            "table.report-table tbody tr",
                        ),
                        f"drill-down {top} (30d)": (f"/dashboard/sources/{top}", "table.report-table tbody tr"),
                    }
                    for viewport_name, viewport in VIEWPORTS.items():
                        context = browser.new_context(viewport=viewport, base_url=base_url)
                        context.add_cookies([{"name": "session", "value": cookie, "url": base_url}])
                        page = context.new_page()
                        for name, (url, shown) in pages.items():
                            if viewport_name == "phone" and not name.startswith("dashboard (30d"):
                                continue
                            for _ in range(3):
                                _timings(page, url, shown)
                            loads, firsts = [], []
                            for _ in range(args.iterations):
                                load, first = _timings(page, url, shown)
                                loads.append(load)
                                firsts.append(first)
                            load50, load95 = _percentiles(loads)
                            first50, first95 = _percentiles(firsts)
                            label = f"{name} {viewport['width']}px"
                            print(
                                f"{database:<11}{events:>11,}  {label:<34}{load50:>9.0f}{load95:>9.0f}"
                                f"{first50:>9.0f}{first95:>9.0f}",
                                flush=True,
                            )
                        context.close()
        browser.close()


if __name__ == "__main__":
    main()
