"""Input the store could not hold is refused at the edge with a 400 and a reason, and nothing of it is kept:
lone surrogates, NUL and out-of-range numbers in the tracker's fields on `/t/e` (fields it does not know are
ignored, never stored), signed platform deliveries carrying
them (Stripe's signature, Kajabi's URL token), and bodies nested too deeply for `/billing/webhook`.
On SQLite and PostgreSQL (whose text holds no NUL and whose UTF-8 holds no lone surrogate)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from adapters.persistence import tables as t
from tests.fakes.stripe import FakeStripe
from tests.live_app import Live

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"}


def _count(container: Any, table: Any) -> int:
    with container.gateways.engine().connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def site_key(container) -> str:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    return str(accounts.add_site("creator@example.com", ["example.com"]).public_key)


def _event(site_key: str, **fields: Any) -> dict[str, Any]:
    event = {"s": site_key, "n": "pageview", "i": uuid.uuid4().hex, "v": "visitor01", "u": "https://example.com/"}
    return {**event, **fields}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            '{{"s": "{key}", "n": "pageview", "i": "{id}", "v": "visitor01", "u": "https://example.com/", '
            '"t": "a lone \\ud800 surrogate"}}',
            "t: contains an unpaired surrogate",
        ),
        (
            '{{"s": "{key}", "n": "identify", "i": "{id}", "v": "visitor01", "u": "https://example.com/", '
            '"e": "x\\udfff@example.com"}}',
            "e: contains an unpaired surrogate",
        ),
        (
            '{{"s": "{key}", "n": "pageview", "i": "{id}", "v": "visitor01", "u": "https://example.com/\\ud800"}}',
            "u: contains an unpaired surrogate",
        ),
        (
            '{{"s": "{key}\\ud800", "n": "pageview", "i": "{id}", "v": "visitor01", "u": "https://example.com/"}}',
            "s: contains an unpaired surrogate",
        ),
        (
            '{{"s": "{key}", "n": "pageview", "i": "{id}", "v": "visitor01", "u": "https://example.com/", '
            '"t": "NUL \\u0000 inside"}}',
            "t: contains a NUL character",
        ),
        (
            '{{"s": "{key}", "n": "pageview", "i": "{id}", "v": "visitor01", "u": "https://example.com/", '
            '"w": ' + "9" * 5000 + "}}",
            "number out of range",
        ),
        (
            '{{"s": "{key}", "n": "pageview", "i": "{id}", "v": "visitor01", "u": "https://example.com/", '
            '"t": 1180591620717411303424}}',
            "t: holds a number out of range",
        ),
        (
            '{{"s": "{key}", "n": "pageview", "i": "{id}", "v": "visitor01", "u": "https://example.com/", "t": NaN}}',
            "t: holds a number out of range",
        ),
    ],
)
def test_the_tracker_gets_400_for_what_cannot_be_stored(
    client, container, site_key: str, body: str, reason: str
) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/t/e", data=body.format(key=site_key, id=uuid.uuid4().hex).encode(), content_type="text/plain", headers=BROWSER
    )
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert _count(container, t.inbound_events) == 0
    # A proper event after it is stored as ever.
    good = client.post("/t/e", data=json.dumps(_event(site_key, t="\U0001f600 fine")), headers=BROWSER)
    assert good.status_code == 204


# --- signed platform deliveries ---------------------------------------------------------------------


@pytest.fixture
def live(live_with_stripe: Live) -> Live:
    return live_with_stripe


def test_signed_stripe_sales_that_cannot_be_stored_are_refused_with_the_reason(
    live: Live, stripe_fake: FakeStripe
) -> None:
    fake = stripe_fake
    _, account_id = live.client("creator@example.com")
    credentials = {"api_key": fake.add_restricted_key(), "webhook_secret": fake.webhook_secret}
    connection_id = live.container.services.connections().connect(account_id, "stripe", credentials).connection.id
    live.wait()
    url = f"{live.base_url}/webhooks/stripe/{connection_id}"
    markers = [b"\\u0000", b"\\ud800", str(2**70).encode()]
    for sale, marker, reason in [
        (
            fake.sell(4_900, customer_email="a@example.com", course_name="Sour\x00dough", checkout=False),
            markers[0],
            "NUL",
        ),
        (
            fake.sell(4_900, customer_email="b@example.com", course_name="Sour\ud800dough", checkout=False),
            markers[1],
            "surrogate",
        ),
        (fake.sell(2**70, customer_email="c@example.com", course_name="Sourdough"), markers[2], "out of range"),
    ]:
        refused = 0
        for event in sale["events"]:
            body, headers = fake.sign(event)
            if marker not in body:
                continue  # an event of the sale that does not carry the bad field (the job reads it via the API)
            answer = requests.post(url, data=body, headers=headers, timeout=10)
            assert answer.status_code == 400, answer.text
            assert reason in answer.json()["reason"]
            refused += 1
        assert refused, marker
    live.wait()
    with live.container.gateways.engine().connect() as db:
        stored = db.execute(select(t.webhook_deliveries.c.body)).scalars().all()
    assert not [body for body in stored if any(marker in bytes(body) for marker in markers)]
    fine = fake.sell(4_900, customer_email="d@example.com", course_name="Sourdough")
    assert fake.deliver(fine["events"][0], url) == 202


def test_a_kajabi_delivery_with_a_lone_surrogate_is_refused(live: Live) -> None:
    kajabi = live.fake
    kajabi.add_site("Academy")
    _, account_id = live.client("creator@example.com")
    connection_id = (
        live.container.services.connections().connect(account_id, "kajabi", kajabi.credentials()).connection.id
    )
    live.wait()
    (hook,) = kajabi.hooks
    body = b'{"id": "evt_1", "event": "purchase", "payload": {"offer_title": "Bread \\ud83d"}}'
    answer = requests.post(hook.target_url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 400
    assert "unpaired surrogate" in answer.json()["reason"]
    assert live.count(t.webhook_deliveries) == 0
    assert connection_id


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_deeply_nested_signed_body_on_the_billing_webhook_is_a_400(settings, fake_stripe: FakeStripe) -> None:  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app, create_container
    from tests.fakes.stripe import signature_header
    from tests.integration.billing_world import billed_settings

    billed = billed_settings(settings, fake_stripe)
    container = create_container(billed)
    try:
        client = build_app(billed, container).test_client()
        for body in (b"[" * 5_000 + b"]" * 5_000, b'{"a":' * 3_000 + b"1" + b"}" * 3_000):
            signed = {"Stripe-Signature": signature_header(body, fake_stripe.webhook_secret, int(time.time()))}
            response = client.post("/billing/webhook", data=body, headers=signed, content_type="application/json")
            assert response.status_code == 400
            assert "nested deeper" in response.get_json()["error"]
    finally:
        container.gateways.job_queue().stop()
        container.unwire()
        container.gateways.engine().dispose()
