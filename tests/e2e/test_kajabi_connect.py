"""A creator connects the fake Kajabi in a real browser and watches the sync's live progress bar."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, require
from tests.fakes.kajabi import FakeKajabi
from tests.live_app import serve_app

pytestmark = pytest.mark.browser
DESKTOP = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_connect_choose_a_site_and_watch_the_progress_bar_fill(database_url: str, tmp_path: Path) -> None:
    require(Path(CHROMIUM).exists(), f"chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with FakeKajabi() as fake, serve_app(database_url, tmp_path, fake, page_size=25) as live:
        academy = fake.add_site("Mindful Money Academy")
        fake.add_site("Side Project")
        fake.seed_random(1000, seed=21)
        account = live.container.services.accounts().ensure_account("creator@example.com")
        cookie = live.app.session_interface.get_signing_serializer(live.app).dumps(  # type: ignore[attr-defined]
            {"_user_id": str(account.id), "_fresh": True}
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            try:
                context = browser.new_context(user_agent=DESKTOP)
                context.add_cookies([{"name": "session", "value": cookie, "url": live.base_url}])
                page = context.new_page()
                page.goto(f"{live.base_url}/connections/new/kajabi")
                assert "Create User API Key" in page.inner_text("body")
                page.fill("#field-client_id", fake.client_id)
                page.fill("#field-client_secret", "not-the-secret")
                page.click("button[type=submit]")
                assert "did not accept this client ID and secret" in page.inner_text(".form-error")

                page.fill("#field-client_id", fake.client_id)
                page.fill("#field-client_secret", fake.client_secret)
                page.click("button[type=submit]")
                page.wait_for_url(re.compile(r"/connections/\d+/choose$"))
                page.check(f"input[value='{academy.id}']")
                page.click("text=Use this site")
                page.wait_for_url(re.compile(r"/connections/\d+$"))

                assert page.get_attribute("#connection", "data-status") == "syncing"
                page.wait_for_function(
                    "document.getElementById('sync-progress').value > 0"
                    " || document.getElementById('connection-status').textContent === 'Connected'",
                    timeout=60_000,
                )
                page.wait_for_function(
                    "document.getElementById('connection-status').textContent === 'Connected'", timeout=60_000
                )
                assert page.is_hidden("#sync")
                assert "1000 purchases in the last full sync" in page.inner_text("#connection-synced")
            finally:
                browser.close()
