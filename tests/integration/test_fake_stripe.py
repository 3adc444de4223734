"""The fake Stripe speaks Stripe's wire format: checked through the real stripe-python client."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
import stripe

from tests.fakes.stripe import FakeStripe
from tests.fakes.stripe.wire import decode_params


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as running:
        yield running


def client_for(fake: FakeStripe, key: str | None = None) -> stripe.StripeClient:
    return stripe.StripeClient(key or fake.secret_key, base_addresses={"api": fake.base_url}, max_network_retries=0)


def test_bracket_notation_decodes_to_nested_objects_and_arrays() -> None:
    decoded = decode_params(
        "mode=subscription&line_items[0][price]=price_1&line_items[0][quantity]=1&line_items[1][price]=p2"
        "&subscription_data[trial_settings][end_behavior][missing_payment_method]=cancel"
        "&expand[]=customer&expand[]=subscription&created[gte]=100&metadata[note]="
    )
    assert decoded == {
        "mode": "subscription",
        "line_items": [{"price": "price_1", "quantity": "1"}, {"price": "p2"}],
        "subscription_data": {"trial_settings": {"end_behavior": {"missing_payment_method": "cancel"}}},
        "expand": ["customer", "subscription"],
        "created": {"gte": "100"},
        "metadata": {"note": ""},
    }


def test_a_wrong_or_missing_key_is_refused_like_stripe_does(fake: FakeStripe) -> None:
    with pytest.raises(stripe.AuthenticationError, match="Invalid API Key"):
        client_for(fake, "sk_test_wrong").v1.customers.list()
    assert fake.requests[-1].authorized is False


def test_customers_are_created_retrieved_and_listed(fake: FakeStripe) -> None:
    client = client_for(fake)
    made = client.v1.customers.create(params={"email": "a@example.com", "metadata": {"account": "7"}})
    assert made.id.startswith("cus_")
    assert client.v1.customers.retrieve(made.id).metadata["account"] == "7"
    assert [c.id for c in client.v1.customers.list(params={"email": "a@example.com"}).data] == [made.id]
    with pytest.raises(stripe.InvalidRequestError, match="No such customer") as missing:
        client.v1.customers.retrieve("cus_nope")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"


def test_checkout_sessions_check_the_parameters_they_are_sent(fake: FakeStripe) -> None:
    client = client_for(fake)
    price = fake.add_price()
    customer = client.v1.customers.create(params={"email": "a@example.com"})
    good: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price["id"], "quantity": 1}],
        "success_url": "https://app.test/billing?checkout=success",
        "cancel_url": "https://app.test/billing",
        "customer": customer.id,
        "client_reference_id": "7",
        "subscription_data": {
            "trial_end": int(time.time()) + 5 * 86_400,
            "trial_settings": {"end_behavior": {"missing_payment_method": "cancel"}},
            "metadata": {"coursesignal_account_id": "7"},
        },
    }
    session = client.v1.checkout.sessions.create(params=good)  # type: ignore[arg-type]
    assert session.url == f"{fake.base_url}/checkout/{session.id}"
    assert (session.mode, session.customer, session.client_reference_id) == ("subscription", customer.id, "7")
    sent = fake.calls("POST", "/v1/checkout/sessions")[-1].params
    assert sent["line_items"] == [{"price": price["id"], "quantity": "1"}]

    bad_cases: list[tuple[dict[str, Any], str]] = [
        ({"customer_email": "a@example.com"}, "only specify one"),
        ({"mode": "subscriptions"}, "mode must be"),
        ({"line_items": [{"price": "price_nope", "quantity": 1}]}, "No such price"),
        ({"line_items": [{"price": price["id"]}]}, "quantity"),
        ({"subscription_data": {"trial_end": int(time.time()) + 3600}}, "at least 2 days"),
        ({"subscription_data": {"trial_period_days": 14, "trial_end": int(time.time()) + 5 * 86_400}}, "Only one"),
        ({"subscription_data": {"trial_settings": {"end_behavior": {"missing_payment_method": "x"}}}}, "one of"),
        ({"success_url": "billing"}, "Not a valid URL"),
        ({"colour": "blue"}, "unknown parameter: colour"),
    ]
    for change, message in bad_cases:
        with pytest.raises(stripe.InvalidRequestError, match=message):
            client.v1.checkout.sessions.create(params={**good, **change})


def test_checkout_and_the_portal_act_out_a_subscription(fake: FakeStripe) -> None:
    client = client_for(fake)
    price = fake.add_price()
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price["id"], "quantity": 1}],
            "success_url": "https://app.test/ok",
            "customer_email": "new@example.com",
        }
    )
    created, paid, completed = fake.complete_checkout(session.id)
    assert [created["type"], paid["type"], completed["type"]] == [
        "customer.subscription.created",
        "invoice.paid",
        "checkout.session.completed",
    ]
    subscription_id = completed["data"]["object"]["subscription"]
    subscription = client.v1.subscriptions.retrieve(subscription_id)
    assert subscription.status == "active"
    assert subscription["items"].data[0].current_period_end > time.time()
    assert fake.customers[subscription.customer]["email"] == "new@example.com"

    portal = client.v1.billing_portal.sessions.create(
        params={"customer": subscription.customer, "return_url": "https://app.test/billing"}
    )
    assert portal.url == f"{fake.base_url}/portal/{portal.id}"
    updated = client.v1.subscriptions.update(subscription_id, params={"cancel_at_period_end": True})
    assert updated.cancel_at_period_end is True
    assert fake.events[-1]["type"] == "customer.subscription.updated"
    assert fake.events[-1]["data"]["previous_attributes"] == {"cancel_at_period_end": False}
    assert [s.id for s in client.v1.subscriptions.list(params={"customer": subscription.customer}).data] == [
        subscription_id
    ]
    with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
        client.v1.billing_portal.sessions.create(params={"customer": "cus_nope"})


def test_a_failing_renewal_is_retried_on_the_schedule_then_the_subscription_is_canceled(fake: FakeStripe) -> None:
    price = fake.add_price()
    customer = fake.add_customer("a@example.com")
    session = client_for(fake).v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price["id"], "quantity": 1}],
            "success_url": "https://app.test/ok",
            "customer": customer["id"],
        }
    )
    subscription_id = fake.complete_checkout(session.id)[-1]["data"]["object"]["subscription"]
    rounds = [fake.fail_payment(subscription_id) for _ in range(fake.retries + 1)]
    assert [[e["type"] for e in events] for events in rounds] == [
        ["invoice.payment_failed", "customer.subscription.updated"],
        ["invoice.payment_failed"],
        ["invoice.payment_failed"],
        ["invoice.payment_failed", "customer.subscription.deleted"],
    ]
    invoices = [events[0]["data"]["object"] for events in rounds]
    assert [i["attempt_count"] for i in invoices] == [1, 2, 3, 4]
    assert [i["next_payment_attempt"] is None for i in invoices] == [False, False, False, True]
    assert {i["parent"]["subscription_details"]["subscription"] for i in invoices} == {subscription_id}
    assert fake.subscriptions[subscription_id]["status"] == "canceled"


def test_charges_and_payment_intents_page_newest_first_from_a_date(fake: FakeStripe) -> None:
    client = client_for(fake)
    now = int(time.time())
    for day in range(40):
        fake.add_payment_intent(1000 + day, created=now - day * 86_400, email=f"b{day}@example.com")
    since = now - 30 * 86_400
    first = client.v1.payment_intents.list(params={"created": {"gte": since}, "limit": 10})
    assert first.has_more is True
    assert [pi.amount for pi in first.data] == list(range(1000, 1010))
    everything = list(client.v1.payment_intents.list(params={"created": {"gte": since}, "limit": 7}).auto_paging_iter())
    assert [pi.amount for pi in everything] == list(range(1000, 1031))
    charges = list(client.v1.charges.list(params={"created": {"gte": since}, "limit": 100}).auto_paging_iter())
    assert len(charges) == 31
    assert charges[0].billing_details.email == "b0@example.com"
    assert charges[0].payment_intent == everything[0].id
    with pytest.raises(stripe.InvalidRequestError, match="between 1 and 100"):
        client.v1.charges.list(params={"limit": 101})
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter"):
        client.v1.charges.list(params={"created": {"after": 1}})  # type: ignore[typeddict-unknown-key]


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[bytes, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers["Stripe-Signature"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_signed_events_are_delivered_and_pass_stripes_own_verification(fake: FakeStripe) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        event = fake.event("customer.created", fake.add_customer("a@example.com"))
        status = fake.deliver(event, f"http://127.0.0.1:{server.server_address[1]}/hook")
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200
    body, header = _Receiver.received[-1]
    verified = stripe.Webhook.construct_event(body.decode(), header, fake.webhook_secret, tolerance=300)
    assert verified.id == event["id"]
    assert json.loads(body)["data"]["object"]["email"] == "a@example.com"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode(), header, "whsec_other", tolerance=300)
    _, stale = fake.sign(event, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(body.decode(), stale["Stripe-Signature"], fake.webhook_secret, tolerance=300)


def test_the_hosted_pages_let_a_browser_subscribe_and_cancel(fake: FakeStripe) -> None:
    client = client_for(fake)
    price = fake.add_price()
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": price["id"], "quantity": 1}],
            "success_url": "https://app.test/ok?session={CHECKOUT_SESSION_ID}",
            "customer_email": "a@example.com",
        }
    )
    opener = urllib.request.build_opener(_NoRedirects)
    with opener.open(session.url, timeout=5) as page:
        assert "Subscribe for 99.00 USD per month" in page.read().decode()
    with pytest.raises(urllib.error.HTTPError) as paid:
        opener.open(urllib.request.Request(f"{session.url}/pay", data=b"", method="POST"), timeout=5)  # noqa: S310
    assert paid.value.code == 303
    assert paid.value.headers["Location"] == f"https://app.test/ok?session={session.id}"
    (subscription,) = fake.subscriptions.values()

    portal = client.v1.billing_portal.sessions.create(
        params={"customer": subscription["customer"], "return_url": "https://app.test/billing"}
    )
    with opener.open(portal.url, timeout=5) as page:
        assert "Cancel plan" in page.read().decode()
    with pytest.raises(urllib.error.HTTPError) as canceled:
        opener.open(urllib.request.Request(f"{portal.url}/cancel", data=b"", method="POST"), timeout=5)  # noqa: S310
    assert canceled.value.headers["Location"] == "https://app.test/billing"
    assert subscription["cancel_at_period_end"] is True
    paid.value.close()
    canceled.value.close()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
