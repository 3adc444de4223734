"""A person in a real browser: sign up, confirm by the mailed link, upload purchases, add the snippet,
see the first visit arrive, land on the dashboard. Prints the elapsed time and the number of actions.

The app runs on a real HTTP server thread; the browser is Debian's chromium, at a phone's width (375 px),
and any Content-Security-Policy violation fails the test.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import TEST_ENCRYPTION_KEY
from tests.web_session import links_in, outbox_messages

pytestmark = pytest.mark.browser

DESKTOP_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
PHONE_WIDTH = 375


class _Dispatch:
    """The server needs an app before the app knows the server's port (its base URL): hand over later.

    Also adds up the time the app spends answering, to tell the app's share from the browser's.
    """

    app: Any = None

    def __init__(self) -> None:
        self.app_seconds = 0.0
        self.requests = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        started = time.perf_counter()
        body = list(self.app(environ, start_response))
        with self._lock:
            self.app_seconds += time.perf_counter() - started
            self.requests += 1
        return body


@pytest.fixture
def live_app(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[str, _Dispatch, Path]]:
    from coursesignal.container import build_app, create_container
    from coursesignal.settings import Settings

    database = tmp_path / "coursesignal.db"
    shutil.copy(sqlite_template, database)
    dispatch = _Dispatch()
    server = make_server("127.0.0.1", 0, dispatch, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    settings = Settings(
        database_url=f"sqlite:///{database}",
        redis_url=None,
        base_url=base_url,
        instance_path=tmp_path / "instance",
        environment="test",
        secret_key="e2e-secret-key",
        # As every configured app has (settings.py makes one in development): the dashboard lists connections.
        encryption_keys=(TEST_ENCRYPTION_KEY,),
    )
    container = create_container(settings)
    dispatch.app = build_app(settings, container)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield base_url, dispatch, settings.outbox_path
    finally:
        server.shutdown()
        thread.join(timeout=5)
        container.gateways.job_queue().stop()
        container.unwire()
        container.gateways.engine().dispose()


class CountingPage:
    """The page, counting what a person does: each click, typed field, chosen file and opened link."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.actions = 0

    def goto(self, url: str) -> None:
        self.actions += 1
        self.page.goto(url)

    def fill(self, label: str, value: str) -> None:
        self.actions += 1
        self.page.get_by_label(label, exact=True).fill(value)

    def click(self, role: str, name: str) -> None:
        self.actions += 1
        self.page.get_by_role(role, name=name).click()

    def choose_file(self, label: str, path: Path) -> None:
        self.actions += 1
        self.page.get_by_label(label).set_input_files(str(path))

    def fits_the_screen(self) -> bool:
        self.page.wait_for_load_state("load")  # a page opened by a click may still be loading its stylesheets
        width = self.page.evaluate("document.documentElement.scrollWidth")
        return bool(width <= PHONE_WIDTH)


def _send_visit(base_url: str, site_key: str) -> None:
    """What the tracker on the creator's site sends when someone opens it."""
    body = json.dumps(
        {
            "s": site_key,
            "n": "pageview",
            "i": "e2e-event-1",
            "v": "e2e-visitor",
            "u": "https://academy.example.com/?utm_source=newsletter",
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - our own local test server
        f"{base_url}/t/e", data=body, headers={"Content-Type": "text/plain", "User-Agent": DESKTOP_CHROME}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        assert response.status == 204


def test_signup_to_dashboard_in_a_browser(browser, live_app: tuple[str, _Dispatch, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    base_url, server, outbox = live_app
    sales = tmp_path / "sales.csv"
    bought = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    sales.write_text(
        "purchase_id,email,amount,currency,purchased_at,course_name\n"
        f"ord-1,ann@example.com,99.00,USD,{bought},Launch Course\n"
        f"ord-2,bob@example.com,49.00,USD,{bought},Mini Course\n"
    )

    context = browser.new_context(
        user_agent=DESKTOP_CHROME, viewport={"width": PHONE_WIDTH, "height": 800}, base_url=base_url
    )
    try:
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
        page = context.new_page()
        policy_violations: list[str] = []
        page.on(
            "console",
            lambda message: (
                policy_violations.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        person = CountingPage(page)
        started = time.perf_counter()

        person.goto("/signup")
        person.fill("Email", "creator@example.com")
        person.fill("Password", "five quiet lanterns drifting")
        person.click("button", "Create my account")
        expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
        assert person.fits_the_screen()

        [mail] = outbox_messages(outbox)
        person.goto(links_in(mail)[0])
        expect(page.get_by_text("14-day free trial has started")).to_be_visible()
        expect(page.locator(".trial")).to_contain_text("14 days")
        expect(page.get_by_text("Step 1 of 5")).to_be_visible()

        person.click("radio", "CSV file")
        person.click("button", "Continue")
        expect(page.get_by_text("Step 2 of 5")).to_be_visible()
        person.choose_file("Purchases file (.csv)", sales)
        person.click("button", "Upload and import")
        expect(page.get_by_role("heading", name="Purchases imported")).to_be_visible()
        expect(page.locator(".lead strong")).to_have_text("2")

        person.click("link", "Continue to the tracking snippet")
        person.fill("Your website's domain", "academy.example.com")
        person.click("button", "Create my snippet")
        snippet = page.locator("#snippet-code")
        expect(snippet).to_contain_text('data-site="cs_')
        assert person.fits_the_screen()
        person.click("button", "Copy snippet")
        expect(page.locator("#copy-status")).to_contain_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == snippet.inner_text()
        expect(page.locator("#first-visit")).to_have_class("visit-check waiting")

        site_key = snippet.inner_text().split('data-site="')[1].split('"')[0]
        _send_visit(base_url, site_key)  # the creator opens their own site in another tab
        expect(page.locator("#first-visit")).to_have_class("visit-check seen", timeout=15_000)
        expect(page.locator("#first-visit")).to_contain_text("First visit received")

        person.click("button", "Go to my dashboard")
        expect(page.get_by_role("heading", name="Revenue by source")).to_be_visible()
        expect(page.get_by_role("rowheader", name="Unmatched")).to_be_visible()  # the table row, not the split chart
        expect(page.locator("tr.unmatched")).to_contain_text("148.00")
        expect(page.get_by_text("Finish setting up")).to_have_count(0)
        assert person.fits_the_screen()

        elapsed = time.perf_counter() - started
    finally:
        context.close()

    assert policy_violations == []
    print(
        f"\nsignup -> dashboard in a browser: {elapsed:.2f} s elapsed, {person.actions} actions, "
        f"{server.app_seconds:.2f} s of app time over {server.requests} requests"
    )
    assert person.actions <= 15
    assert server.app_seconds < 30
