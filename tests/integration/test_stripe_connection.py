"""Stripe sales end to end: a creator connects from the connection pages, the app served over HTTP, the
fake Stripe syncing 30 days and delivering signed webhooks to it, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import json
import time
from typing import Any

import pytest
import requests
from sqlalchemy import select

from adapters.persistence import tables as t
from tests.fakes.stripe import SALES_PERMISSIONS, FakeStripe, signature_header
from tests.integration.test_flow import send
from tests.live_app import Live
from tests.web_session import post_form


@pytest.fixture
def live(live_with_stripe: Live) -> Live:
    return live_with_stripe


def _text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _deliver(fake: FakeStripe, event: dict[str, Any], url: str, **signing: Any) -> int:
    return fake.deliver(event, url, **signing)


def test_a_creator_connects_stripe_sees_30_days_and_receives_sales_and_refunds(
    live: Live, stripe_fake: FakeStripe
) -> None:
    fake = stripe_fake
    sales = fake.seed_sales(120, days=30, seed=9)
    fake.sell(9_900, email="long-ago@example.com", created=fake.now() - 45 * 86_400)
    key = fake.add_restricted_key()
    client, account_id = live.client("creator@example.com")
    accounts = live.container.services.accounts()
    site = accounts.add_site("creator@example.com", ["school.example.com"])

    form = _text(client.get("/connections/new/stripe"))
    for words in ("Create restricted key", "Checkout Sessions", "Read", "whsec_", "(optional)"):
        assert words in form
    assert "Stripe" in _text(client.get("/connections/"))

    wrong = post_form(client, "/connections/new/stripe", {"api_key": "rk_test_typo", "webhook_secret": ""})
    assert wrong.status_code == 422
    assert "Stripe refused this key" in _text(wrong)
    narrow = fake.add_restricted_key([p for p in SALES_PERMISSIONS if p != "customer"])
    lacking = post_form(client, "/connections/new/stripe", {"api_key": narrow, "webhook_secret": ""})
    assert lacking.status_code == 422
    assert "set Customers to Read" in _text(lacking)
    assert live.count(t.platform_integrations) == 0

    created = post_form(client, "/connections/new/stripe", {"api_key": key, "webhook_secret": ""})
    assert created.status_code == 302
    connection_id = int(created.headers["Location"].rstrip("/").split("/")[-1])
    seen = live.watch_sync(account_id, connection_id, every=0.02)
    status = client.get(f"/api/v1/connections/{connection_id}").json
    assert status["status"] == "connected"
    assert status["progress"]["purchases_found"] == 120
    assert status["progress"]["pages_done"] >= 2 + 2 + 2  # sessions, payment intents, charges: 100 a page
    found = [v.purchases_found for v in seen]
    assert found == sorted(found)
    assert live.count(t.purchases) == 120
    assert live.count(t.refunds) == sum(1 for s in sales if s["charge"]["amount_refunded"])

    # The connection page shows the endpoint URL to add in Stripe, then takes its signing secret.
    url = f"{live.base_url}/webhooks/stripe/{connection_id}"
    page = _text(client.get(f"/connections/{connection_id}"))
    assert url in page
    assert 'name="webhook_secret"' in page
    event = fake.sell(100, email="early@example.com")["events"][0]
    assert _deliver(fake, event, url) == 400  # no secret yet: refused, stored nowhere
    show = f"/connections/{connection_id}"
    typo = post_form(client, f"{show}/credentials", {"webhook_secret": "wh_typo"}, form_page=show)
    assert typo.status_code == 422
    assert "starts with whsec_" in _text(typo)
    saved = post_form(client, f"{show}/credentials", {"webhook_secret": fake.webhook_secret}, form_page=show)
    assert saved.status_code == 302
    page = _text(client.get(f"/connections/{connection_id}"))
    assert url in page
    assert 'name="webhook_secret"' not in page

    # A visitor from a newsletter buys through Checkout: three events, one sale, matched by the visitor id.
    landing = "https://school.example.com/watercolour?utm_source=newsletter&utm_medium=email"
    assert send(client, s=site.public_key, n="pageview", i="event0001", v="visitor0001", u=landing).status_code == 204
    live.wait()
    sale = fake.sell(
        19_700,
        email="ava@example.com",
        course_name="Watercolour Basics",
        client_reference_id="visitor0001",
        created=fake.now() + 2,
    )
    intent, charge, session = sale["events"]
    assert [_deliver(fake, e, url) for e in (session, charge, intent)] == [202, 202, 202]
    assert _deliver(fake, session, url) == 200  # Stripe retried: accepted, ignored
    live.wait()
    assert live.count(t.purchases) == 121
    purchases = client.get("/api/v1/purchases").json
    rows = purchases["purchases"] if isinstance(purchases, dict) else purchases
    (bought,) = [p for p in rows if p["platform_purchase_id"] == sale["payment_intent"]["id"]]
    assert (bought["email"], bought["course_name"], bought["amount"]) == (
        "ava@example.com",
        "Watercolour Basics",
        19_700,
    )
    assert (bought["status"], bought["match_method"]) == ("matched", "visitor_id")

    # Two partial refunds: one refund, at the running total.
    assert _deliver(fake, fake.refund(sale["charge"]["id"], 5_000), url) == 202
    assert _deliver(fake, fake.refund(sale["charge"]["id"], 2_000), url) == 202
    live.wait()
    with live.container.gateways.engine().connect() as db:
        refunded = (
            db.execute(
                select(t.refunds.c.amount)
                .join(t.purchases, t.purchases.c.id == t.refunds.c.purchase_id)
                .where(t.purchases.c.platform_purchase_id == sale["payment_intent"]["id"])
            )
            .scalars()
            .all()
        )
    assert refunded == [7_000]

    # A sale without any email is kept, unmatched, with the reason shown.
    nobody = fake.sell(2_500, checkout=False)
    assert _deliver(fake, nobody["events"][0], url) == 202
    live.wait()
    latest = client.get("/api/v1/purchases").json
    latest_rows = latest["purchases"] if isinstance(latest, dict) else latest
    (kept,) = [p for p in latest_rows if p["platform_purchase_id"] == nobody["payment_intent"]["id"]]
    assert (kept["email"], kept["status"], kept["amount"]) == (None, "unmatched", 2_500)
    assert kept["unmatched_reason"].startswith("The platform sent no buyer email")
    assert "sent no buyer email" in _text(client.get(f"/dashboard/purchases/{kept['id']}"))

    # Bad input: a wrong signature or an unreadable body is a 400 with its reason, stored nowhere.
    stored = live.count(t.webhook_deliveries)
    forged = _deliver(fake, fake.sell(500, email="x@example.com")["events"][0], url, secret="whsec_forger")
    assert forged == 400
    body = b'{"object": "event", "id": "evt_x"'
    answer = requests.post(
        url,
        data=body,
        headers={"Stripe-Signature": signature_header(body, fake.webhook_secret, int(time.time()))},
        timeout=5,
    )
    assert (answer.status_code, answer.json()["reason"]) == (400, "The body is not JSON.")
    assert requests.post(url, data=b"{}", timeout=5).status_code == 400
    assert requests.post(f"{url}/some-token", data=b"{}", timeout=5).status_code == 404
    assert live.count(t.webhook_deliveries) == stored

    # Disconnected: Stripe is told to stop.
    post_form(client, f"{show}/disconnect", {}, form_page=show)
    assert _deliver(fake, fake.sell(300, email="late@example.com")["events"][0], url) == 410


def test_a_sale_told_by_the_session_before_the_payment_is_still_one_purchase(
    live: Live, stripe_fake: FakeStripe
) -> None:
    fake = stripe_fake
    _, account_id = live.client("creator@example.com")
    credentials = {"api_key": fake.add_restricted_key(), "webhook_secret": fake.webhook_secret}
    connection_id = live.container.services.connections().connect(account_id, "stripe", credentials).connection.id
    live.wait()
    url = f"{live.base_url}/webhooks/stripe/{connection_id}"
    sale = fake.sell(4_900, customer_email="cus@example.com", course_name="Sourdough", client_reference_id="visitor-77")
    intent, _, session = sale["events"]
    assert _deliver(fake, intent, url) == 202
    live.wait()
    assert _deliver(fake, session, url) == 202
    live.wait()
    with live.container.gateways.engine().connect() as db:
        rows = db.execute(select(t.purchases.c.email, t.purchases.c.visitor_key, t.purchases.c.course_name)).all()
    assert [tuple(r) for r in rows] == [("cus@example.com", "visitor-77", "Sourdough")]
    # The sync after it changes nothing.
    live.container.services.connections().poll(connection_id)
    assert live.count(t.purchases) == 1
    assert json.loads(json.dumps(rows[0][1])) == "visitor-77"


def test_a_key_that_may_write_endpoints_gets_the_endpoint_made_and_removed_on_disconnect(
    live: Live, stripe_fake: FakeStripe
) -> None:
    fake = stripe_fake
    client, _ = live.client("creator@example.com")
    key = fake.add_restricted_key([*SALES_PERMISSIONS, "webhook_endpoint_write"])
    created = post_form(client, "/connections/new/stripe", {"api_key": key, "webhook_secret": ""})
    assert created.status_code == 302
    show = created.headers["Location"]
    connection_id = int(show.rstrip("/").split("/")[-1])
    live.wait()
    (endpoint,) = fake.webhook_endpoints.values()
    assert endpoint["url"] == f"{live.base_url}/webhooks/stripe/{connection_id}"
    assert "webhook-url" not in _text(client.get(show))  # nothing for the creator to paste
    sale = fake.sell(4_900, email="auto@example.com")
    assert _deliver(fake, sale["events"][0], endpoint["url"], secret=endpoint["secret"]) == 202
    live.wait()
    assert live.count(t.purchases) == 1
    post_form(client, f"{show}/disconnect", {}, form_page=show)
    assert fake.webhook_endpoints == {}
