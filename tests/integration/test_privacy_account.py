"""Deleting a creator's account through the app, on SQLite and PostgreSQL, against the fake Stripe: the paid
plan is cancelled at Stripe first, then nothing of the account is left in any table; when Stripe cannot be
reached, nothing is deleted."""

from __future__ import annotations

from typing import Any

import pytest
from dependency_injector import providers

from adapters.billing.stripe_checkout import StripeBilling
from adapters.persistence import tables as t
from tests.fakes.stripe import FakeStripe
from tests.integration.billing_world import (
    PRICE_ID,
    Creator,
    billed_settings,
)
from tests.integration.test_privacy import ANA, ANA_KEYS, CREATOR, every_row, find_everywhere, seed_people
from tests.web_session import PASSWORD, post_form


@pytest.fixture
def settings(settings, fake_stripe: FakeStripe):  # type: ignore[no-untyped-def]
    return billed_settings(settings, fake_stripe)


@pytest.fixture
def subscribed(client, container, fake_stripe: FakeStripe) -> tuple[Creator, str]:  # type: ignore[no-untyped-def]
    """A creator with a password, a paid plan and a student seeded everywhere."""
    container.services.accounts().create_verified_account(CREATOR, PASSWORD)
    seed_people(container, client)
    creator = Creator(client, container, fake_stripe, CREATOR)
    subscription_id = creator.subscribe()
    # In its trial (the first charge waits for its end): still a plan that would charge a deleted account.
    assert fake_stripe.subscriptions[subscription_id]["status"] == "trialing"
    return creator, subscription_id


def owned_rows(engine: Any, account_id: int) -> list[str]:
    """Every row that names the account by a user_id column."""
    return [
        f"{name}: {row}" for name, rows in every_row(engine).items() for row in rows if row.get("user_id") == account_id
    ]


def delete_account(client: Any, password: str = PASSWORD) -> Any:
    return post_form(
        client, "/account/delete", {"del-password": password, "del-confirm": "delete"}, form_page="/account"
    )


def test_deleting_the_account_cancels_the_plan_then_leaves_nothing(
    subscribed: tuple[Creator, str], container: Any, fake_stripe: FakeStripe
) -> None:
    creator, subscription_id = subscribed
    engine = container.gateways.engine()
    assert owned_rows(engine, creator.account_id)

    assert delete_account(creator.client, "not the password").status_code == 400
    assert fake_stripe.subscriptions[subscription_id]["status"] == "trialing"
    response = delete_account(creator.client)

    assert response.headers["Location"] == "/signup"
    assert fake_stripe.subscriptions[subscription_id]["status"] == "canceled"
    assert [call.path for call in fake_stripe.calls("DELETE", f"/v1/subscriptions/{subscription_id}")] == [
        f"/v1/subscriptions/{subscription_id}"
    ]
    assert owned_rows(engine, creator.account_id) == []
    assert find_everywhere(engine, [CREATOR, ANA, *ANA_KEYS, creator.site.public_key]) == []
    rows = every_row(engine)
    for table in t.metadata.sorted_tables:
        if table.name not in ("billing_events", "fingerprint_salts"):  # neither names anyone
            assert rows[table.name] == [], table.name


def test_when_stripe_cannot_be_reached_nothing_is_deleted(
    subscribed: tuple[Creator, str], container: Any, fake_stripe: FakeStripe
) -> None:
    creator, subscription_id = subscribed
    unreachable = StripeBilling(
        secret_key=fake_stripe.secret_key, webhook_secret=None, price_id=PRICE_ID, api_base="http://127.0.0.1:9"
    )
    container.gateways.billing.override(providers.Object(unreachable))
    container.services.subscriptions.reset()
    container.services.privacy.reset()
    try:
        response = delete_account(creator.client)
    finally:
        container.gateways.billing.reset_override()
        container.services.subscriptions.reset()
        container.services.privacy.reset()

    assert response.status_code == 400
    assert "could not reach Stripe" in response.get_data(as_text=True)
    assert owned_rows(container.gateways.engine(), creator.account_id)
    assert fake_stripe.subscriptions[subscription_id]["status"] == "trialing"


def test_deleting_the_account_cancels_every_subscription_of_the_customer_and_expires_open_checkouts(
    subscribed: tuple[Creator, str], container: Any, fake_stripe: FakeStripe
) -> None:
    creator, tracked = subscribed
    customer_id = fake_stripe.subscriptions[tracked]["customer"]
    # A second plan this account never heard of (made in the Dashboard, or a webhook that never came), and a
    # Checkout Session still open in some tab.
    untracked = fake_stripe.complete_checkout(_open_session(fake_stripe, customer_id))[0]["data"]["object"]["id"]
    left_open = _open_session(fake_stripe, customer_id)

    assert delete_account(creator.client).headers["Location"] == "/signup"

    assert fake_stripe.live_subscriptions(customer_id) == []
    assert {fake_stripe.subscriptions[s]["status"] for s in (tracked, untracked)} == {"canceled"}
    assert fake_stripe.checkout_sessions[left_open]["status"] == "expired"
    assert fake_stripe.calls("POST", f"/v1/checkout/sessions/{left_open}/expire")


def _open_session(fake: FakeStripe, customer_id: str) -> str:
    status, session = fake.handle(
        "POST",
        "/v1/checkout/sessions",
        {
            "mode": "subscription",
            "customer": customer_id,
            "line_items": [{"price": PRICE_ID, "quantity": "1"}],
            "success_url": "https://coursesignal.test/billing",
        },
    )
    assert status == 200
    return str(session["id"])
