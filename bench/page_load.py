"""Dashboard page load in headless chromium: navigation start to the load event, all data shown.

    .venv/bin/python -m bench.page_load                         # 1M events, PostgreSQL and SQLite
    .venv/bin/python -m bench.page_load --events 100000 --database sqlite --iterations 30

The real app (the same container and Flask app `coursesignal run` serves, on a threaded local server) reads the
benchmark database of bench/reports.py (generated on first use, seeded by bench/dataset.py) with the clock at
the dataset's "now". A signed-in chromium (Debian's, through Playwright's sync API; COURSESIGNAL_CHROMIUM
names another) opens each page; after its load event the script checks that the data is on the page (the
report is rendered on the server, so at the load event it is all there) and reads the Navigation Timing entry:
`loadEventEnd` (from navigation start), and `responseStart` (time to the first byte: the app's share).
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import secrets
import statistics
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dependency_injector import providers
from sqlalchemy import update
from werkzeug.serving import make_server

from adapters.persistence import tables as t
from bench.reports import _At, database_url, prepared
from core.domain.attribution import Model
from core.domain.reports import ReportRange
from coursesignal.container import build_app, create_container
from coursesignal.settings import Settings

CHROMIUM = os.environ.get("COURSESIGNAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812}}


@contextmanager
def serve(database: str, events: int) -> Iterator[tuple[str, str, str]]:
    """The app on a free local port over the level's database; yields its base URL, a session cookie and the
    top source (for the drill-down page)."""
    engine, account = prepared(database, events)
    with engine.begin() as connection:
        connection.execute(update(t.users).where(t.users.c.id == account).values(email_verified_at=datetime.now(UTC)))
    engine.dispose()
    folder = Path(tempfile.mkdtemp(prefix="coursesignal-page-load-"))
    server = make_server("127.0.0.1", 0, None, threaded=True)  # type: ignore[arg-type]
    base_url = f"http://127.0.0.1:{server.server_port}"
    settings = Settings(
        database_url=database_url(database, events),
        redis_url=None,
        base_url=base_url,
        instance_path=folder,
        environment="test",
        secret_key="page-load-bench",  # noqa: S106 - signs a cookie that lives as long as this run
        encryption_keys=(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),),
    )
    container = create_container(settings)
    container.gateways.clock.override(providers.Object(_At()))
    app = build_app(settings, container)
    logging.getLogger("adapters.web.request_log").setLevel(logging.WARNING)  # the figures, not every request
    server.app = app
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
    reports = container.services.reports()
    top = reports.sources(account, ReportRange.ALL_TIME, Model.FIRST_TOUCH).lines[0].label
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base_url, cookie.value, top
    finally:
        server.shutdown()
        thread.join(timeout=5)
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
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
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
