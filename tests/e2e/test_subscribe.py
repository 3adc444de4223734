"""A creator on a trial subscribes through (fake) Stripe Checkout in a real browser and sees the plan active."""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import update
from werkzeug.serving import make_server

from adapters.persistence import tables as t
from tests.conftest import sign_in
from tests.e2e.conftest import DESKTOP_UA
from tests.fakes.stripe import FakeStripe

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
PRICE_ID = "price_coursesignal_monthly"
SCREENSHOTS = Path(
    os.environ.get("COURSESIGNAL_SCREENSHOTS", Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots")
)


def _screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"\nscreenshot: {path}")


@pytest.fixture
def port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def fake_stripe(port: int) -> Iterator[FakeStripe]:
    with FakeStripe() as fake:
        fake.add_price(PRICE_ID, unit_amount=9900, currency="usd")
        fake.webhook_url = f"http://127.0.0.1:{port}/billing/webhook"
        yield fake


@pytest.fixture
def settings(settings, fake_stripe: FakeStripe, port: int):  # type: ignore[no-untyped-def]
    return replace(
        settings,
        base_url=f"http://127.0.0.1:{port}",
        stripe_secret_key=fake_stripe.secret_key,
        stripe_webhook_secret=fake_stripe.webhook_secret,
        stripe_price_id=PRICE_ID,
        stripe_api_base=fake_stripe.base_url,
    )


@pytest.fixture
def served(app, port: int) -> Iterator[str]:  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_subscribe_through_checkout_and_see_the_plan_active(browser, app, container, served: str) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_in(client, container)
    session_cookie = client.get_cookie("session")
    assert session_cookie is not None
    context = browser.new_context(user_agent=DESKTOP_UA)
    context.add_cookies([{"name": "session", "value": session_cookie.value, "url": served}])
    page = context.new_page()
    blocked: list[Any] = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    try:
        page.goto(f"{served}/billing")
        # On the base layout: the app's stylesheet, its menu, and the primary button style.
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        subscribe = page.get_by_role("button", name="Subscribe for")
        expect(subscribe).to_have_class("button primary")
        assert page.evaluate("getComputedStyle(document.body).fontFamily") != '"Times New Roman"'
        _screenshot(page, "billing-trial")
        subscribe.click()
        expect(page.get_by_role("button", name="Subscribe", exact=True)).to_be_visible()  # Stripe's hosted page
        page.get_by_role("button", name="Subscribe", exact=True).click()
        page.wait_for_url(f"{served}/billing?checkout=success")
        expect(page.locator("[data-status]")).to_have_attribute("data-status", "active")
        expect(page.get_by_text("Subscribed:")).to_be_visible()
        expect(page.get_by_role("button", name="Subscribe for")).to_have_count(0)
        _screenshot(page, "billing-subscribed")
        page.set_viewport_size({"width": 375, "height": 812})
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        _screenshot(page, "billing-subscribed-375px")
    finally:
        context.close()
    assert blocked == []


def test_cancel_in_the_portal_during_a_paid_trial_is_shown_on_the_page_and_the_banner(  # type: ignore[no-untyped-def]
    browser, app, container, served: str
) -> None:
    client = app.test_client()
    account_id = sign_in(client, container)
    trial_end = datetime.now(UTC) + timedelta(days=9, hours=1)
    with container.gateways.engine().begin() as connection:
        connection.execute(update(t.users).where(t.users.c.id == account_id).values(trial_ends_at=trial_end))
    session_cookie = client.get_cookie("session")
    assert session_cookie is not None
    context = browser.new_context(user_agent=DESKTOP_UA)
    context.add_cookies([{"name": "session", "value": session_cookie.value, "url": served}])
    page = context.new_page()
    try:
        page.goto(f"{served}/billing")
        expect(page.locator("[data-billing]")).to_have_text(re.compile(r"10 days\s+left in your free trial"))
        page.get_by_role("button", name="Subscribe for").click()
        page.get_by_role("button", name="Subscribe", exact=True).click()  # Stripe's hosted Checkout
        page.wait_for_url(f"{served}/billing?checkout=success")
        expect(page.get_by_text("Your first payment is on")).to_be_visible()
        expect(page.locator("[data-billing]")).to_have_count(0)  # a subscriber gets no trial banner

        page.get_by_role("button", name="Manage billing").click()
        page.get_by_role("button", name="Cancel plan").click()  # Stripe's hosted Customer Portal
        page.wait_for_url(f"{served}/billing")
        expect(page.locator("#billing-status")).to_have_attribute("data-status", "ending")
        day = f"{trial_end:%B} {trial_end.day}, {trial_end.year}"
        expect(page.locator("#billing-status")).to_contain_text(f"ends on {day} and you will not be charged again")
        expect(page.get_by_text("Your first payment")).to_have_count(0)
        expect(page.locator("[data-billing]")).to_contain_text("Your subscription is canceled and ends on")
        _screenshot(page, "billing-canceled-in-trial")
    finally:
        context.close()
