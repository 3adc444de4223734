"""A creator connects the fake Kajabi in a real browser and watches the sync's live progress bar."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP_UA
from tests.fakes.kajabi import FakeKajabi
from tests.live_app import serve_app

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_connect_choose_a_site_and_watch_the_progress_bar_fill(browser, database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FakeKajabi() as fake, serve_app(database_url, tmp_path, fake, page_size=25) as live:
        academy = fake.add_site("Mindful Money Academy")
        fake.add_site("Side Project")
        fake.seed_random(1000, seed=21)
        context = browser.new_context(user_agent=DESKTOP_UA)
        context.add_cookies(
            [{"name": "session", "value": live.session_cookie("creator@example.com"), "url": live.base_url}]
        )
        page = context.new_page()
        try:
            page.goto(f"{live.base_url}/connections/new/kajabi")
            assert "Create User API Key" in page.inner_text("body")
            page.fill("#field-client_id", fake.client_id)
            page.fill("#field-client_secret", "not-the-secret")
            page.click(".connect-form button[type=submit]")
            assert "did not accept this client ID and secret" in page.inner_text(".form-error")
            # What was typed stays, so only the secret is pasted again: it is never written back into a page.
            expect(page.locator("#field-client_id")).to_have_value(fake.client_id)
            expect(page.locator("#field-client_secret")).to_have_value("")

            page.fill("#field-client_id", fake.client_id)
            page.fill("#field-client_secret", fake.client_secret)
            page.click(".connect-form button[type=submit]")
            page.wait_for_url(re.compile(r"/connections/\d+/choose$"))
            page.check(f"input[value='{academy.id}']")
            page.click("text=Use this site")
            page.wait_for_url(re.compile(r"/connections/\d+$"))

            assert page.get_attribute("#connection", "data-status") == "syncing"
            # Waits through locators: the app's CSP forbids the eval behind wait_for_function.
            expect(page.locator("#sync-progress")).not_to_have_attribute("value", "0", timeout=60_000)
            expect(page.locator("#connection-status")).to_have_text("Connected", timeout=60_000)
            assert page.is_hidden("#sync")
            assert "1000 purchases in the last full sync" in page.inner_text("#connection-synced")
        finally:
            context.close()
