"""An operator opens the console in a browser after the cohort walk of test_business_metrics: the goals,
figures, four charts and the feature usage table are shown, under the strict CSP, with nothing blocked; the
Beta page too; a creator gets the 404 page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import sign_in
from tests.e2e.conftest import DESKTOP_UA, SCREENSHOTS
from tests.integration.test_business_metrics import (  # noqa: F401  # the walk's fixtures: its clock, Stripe, settings
    clock,
    fake_stripe,
    settings,
    story_clock,
    walk_the_story,
)

pytestmark = pytest.mark.browser


def _browser_session(browser, app, container, email: str, base_url: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_in(client, container, email)
    client.get("/dashboard")
    context = browser.new_context(user_agent=DESKTOP_UA, viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "session", "value": client.get_cookie("session").value, "url": base_url}])
    return context


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_operator_reads_the_goals_and_charts_and_a_creator_finds_nothing(  # type: ignore[no-untyped-def]
    clock,  # noqa: F811  # the walk's fixtures, imported above
    app,
    container,
    fake_stripe,  # noqa: F811
    settings,  # noqa: F811
    browser,
    live_server,
    tmp_path: Path,
    database_url: str,
) -> None:
    walk_the_story(app, container, clock, fake_stripe, settings, tmp_path)

    context = _browser_session(browser, app, container, "olga@example.com", live_server)
    page = context.new_page()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        page.goto(f"{live_server}/operator/")
        expect(page.locator("h1")).to_have_text("Operator console")
        goals = page.locator("#goals-table tbody tr")
        expect(goals).to_have_count(5)
        expect(goals.nth(2)).to_contain_text("Trial to paid")
        expect(goals.nth(2)).to_contain_text("57.1%")
        expect(goals.nth(2)).to_contain_text("Met")
        expect(page.locator("#figure-mrr")).to_have_text("297.00 USD")
        expect(page.locator("#figure-script")).to_contain_text("4 of 7 accounts (57.1%)")
        expect(page.locator("svg.chart-operator")).to_have_count(4)
        expect(page.locator("svg.chart-operator").first).to_be_visible()
        expect(page.locator("figcaption", has_text="Purchases per day")).to_contain_text("4 in all")
        expect(page.locator("#usage-table tbody tr").first).to_contain_text("Dashboard by source")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "operator-console.png"), full_page=True)
        page.get_by_role("link", name="Requests, feedback and members").click()
        expect(page.locator("h1")).to_have_text("Beta program")
        expect(page.locator("#feedback-table tbody tr")).to_have_count(3)
        assert blocked == []
    finally:
        context.close()

    creator = _browser_session(browser, app, container, "ana@example.com", live_server)
    page = creator.new_page()
    try:
        response = page.goto(f"{live_server}/operator/")
        assert response is not None
        assert response.status == 404
        expect(page.locator("body")).not_to_contain_text("Operator")
    finally:
        creator.close()
