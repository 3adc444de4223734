"""Billing's test world, shared by the modules that drive it: the app's settings pointing at the fake Stripe
(the `fake_stripe` fixture in conftest.py), and a signed-in creator who pays the way Stripe and a browser do."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from adapters.persistence import tables as t
from coursesignal.settings import Settings
from tests.conftest import sign_in
from tests.fakes.stripe import FakeStripe
from tests.web_session import post_form

PRICE_ID = "price_coursesignal_monthly"
OPERATOR = "ops@coursesignal.test"
BILLING_PAGE = "http://coursesignal.test/billing"
BROWSER = {"User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 Chrome/130 Safari/537.36"}


def billed_settings(settings: Settings, fake: FakeStripe) -> Settings:
    """The app's settings charging the monthly price through the fake Stripe."""
    return replace(
        settings,
        stripe_secret_key=fake.secret_key,
        stripe_webhook_secret=fake.webhook_secret,
        stripe_price_id=PRICE_ID,
        stripe_api_base=fake.base_url,
        operator_email=OPERATOR,
    )


class Creator:
    """A signed-in creator, with the helpers to drive billing the way Stripe and a browser do."""

    def __init__(self, client: Any, container: Any, fake: FakeStripe, email: str = "creator@example.com") -> None:
        self.client = client
        self.container = container
        self.fake = fake
        self.account_id: int = sign_in(client, container, email)
        self.site = container.services.accounts().add_site(email, ["example.com"])

    def trial_ends(self, when: datetime) -> None:
        # What email verification does (another module's job); billing only reads users.trial_ends_at.
        with self.container.gateways.engine().begin() as connection:
            connection.execute(update(t.users).where(t.users.c.id == self.account_id).values(trial_ends_at=when))

    def count(self, table: t.Table) -> int:
        with self.container.gateways.engine().connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

    def status(self) -> str:
        page = self.client.get("/billing")
        assert page.status_code == 200
        found = re.search(r'id="billing-status" data-status="([a-z_]+)"', page.text)
        assert found is not None
        return found.group(1)

    def send(self, event: dict[str, Any], **signing: Any) -> Any:
        body, headers = self.fake.sign(event, **signing)
        return self.client.post("/billing/webhook", data=body, headers=headers)

    def send_all(self, events: list[dict[str, Any]]) -> list[str]:
        outcomes = []
        for event in events:
            response = self.send(event)
            assert response.status_code == 200, response.text
            outcomes.append(response.json["outcome"])
        return outcomes

    def checkout(self) -> str:
        response = post_form(self.client, "/billing/checkout", {}, form_page="/billing")
        assert response.status_code == 303, response.text
        location = response.headers["Location"]
        assert location.startswith(f"{self.fake.base_url}/checkout/cs_test_")
        return location.rsplit("/", 1)[1]

    def subscribe(self) -> str:
        """Checkout paid, every event delivered: returns the Stripe subscription id."""
        events = self.fake.complete_checkout(self.checkout())
        self.send_all(events)
        return str(events[-1]["data"]["object"]["subscription"])

    def customer_id(self) -> str:
        with self.container.gateways.engine().connect() as connection:
            found = connection.execute(
                select(t.billing_subscriptions.c.stripe_customer_id).where(
                    t.billing_subscriptions.c.user_id == self.account_id
                )
            ).scalar_one()
        return str(found)

    def second_subscription(self) -> list[dict[str, Any]]:
        """A second plan paid at Stripe for the same customer, past every guard of the app (a Checkout Session
        made outside it, or a plan added in the Dashboard): the events Stripe sends about it."""
        status, session = self.fake.handle(
            "POST",
            "/v1/checkout/sessions",
            {
                "mode": "subscription",
                "customer": self.customer_id(),
                "line_items": [{"price": PRICE_ID, "quantity": "1"}],
                "success_url": BILLING_PAGE,
                "subscription_data": {"metadata": {"coursesignal_account_id": str(self.account_id)}},
            },
        )
        assert status == 200
        return self.fake.complete_checkout(session["id"])

    def track_a_visit(self, event_id: str) -> int:
        event = {
            "s": self.site.public_key,
            "n": "pageview",
            "i": event_id,
            "v": "visitor01",
            "u": "https://example.com/",
        }
        return int(
            self.client.post("/t/e", data=json.dumps(event), content_type="text/plain", headers=BROWSER).status_code
        )

    def reports_status(self) -> int:
        return int(self.client.get("/api/v1/reports/sources?range=7d").status_code)
