"""A creator finds a webhook delivery that failed while Kajabi was down, reads why, and replays it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from adapters.persistence import tables as t
from core.domain.connections import DeliveryState
from tests.e2e.conftest import DESKTOP_UA
from tests.fakes.kajabi import FakeKajabi
from tests.live_app import Live, serve_app

pytestmark = pytest.mark.browser


def _delivery_state(live: Live) -> DeliveryState | None:
    with live.container.gateways.unit_of_work() as uow:
        delivery = uow.webhook_deliveries.get(1)
    return None if delivery is None else delivery.state


def _wait_for(live: Live, state: DeliveryState) -> None:
    deadline = time.monotonic() + 30
    while _delivery_state(live) is not state:
        assert time.monotonic() < deadline, f"the delivery never became {state}"
        time.sleep(0.05)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_failed_delivery_is_listed_with_its_reason_and_replayed(browser, database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with FakeKajabi() as fake, serve_app(database_url, tmp_path, fake, retry_delays=(0.01, 0.01, 0.01, 0.01)) as live:
        offer = fake.add_offer("Course Launch Blueprint", 49_700)
        _, account_id = live.client("creator@example.com")
        connection_id = live.connect(account_id)
        purchase = fake.add_purchase(fake.add_customer("ava@example.com", "Ava"), offer)
        fake.fail_next(1000, status=503)
        assert fake.deliver("purchase", purchase) == [202]
        _wait_for(live, DeliveryState.FAILED)

        context = browser.new_context(user_agent=DESKTOP_UA)
        context.add_cookies(
            [{"name": "session", "value": live.session_cookie("creator@example.com"), "url": live.base_url}]
        )
        page = context.new_page()
        try:
            page.goto(f"{live.base_url}/connections/{connection_id}")
            expect(page.locator("#deliveries-notice")).to_contain_text("1 webhook delivery could not be counted.")
            page.click("text=See failed deliveries")
            row = page.locator("tr[data-state=failed]")
            expect(row.locator(".delivery-error")).to_have_text(
                "Kajabi is not answering right now (HTTP 503). Try again in a few minutes."
            )

            fake.clear_faults()  # Kajabi is back
            row.locator("button", has_text="Replay").click()
            expect(page.locator(".flash")).to_contain_text("Replaying the delivery now.")
            _wait_for(live, DeliveryState.PROCESSED)
            page.reload()
            expect(page.locator("#no-failed-deliveries")).to_be_visible()
            assert live.count(t.purchases) == 1
        finally:
            context.close()
