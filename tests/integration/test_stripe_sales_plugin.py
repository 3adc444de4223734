"""The Stripe sales plugin against the fake Stripe, over HTTP, through the real stripe library."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from coursesignal import (
    CredentialsRejected,
    Money,
    PurchaseRecord,
    RefundRecord,
    WebhookDelivery,
    WebhookRejected,
)
from plugins.stripe_sales import StripeSalesPlatform, coursesignal_platforms
from tests.fakes.stripe import SALES_PERMISSIONS, FakeStripe

DAY = 86_400


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as server:
        yield server


@pytest.fixture
def platform(fake: FakeStripe) -> StripeSalesPlatform:
    (adapter,) = coursesignal_platforms({"stripe": fake.base_url})
    assert isinstance(adapter, StripeSalesPlatform)
    return adapter


@pytest.fixture
def credentials(fake: FakeStripe) -> dict[str, str]:
    return {"api_key": fake.add_restricted_key(), "webhook_secret": fake.webhook_secret}


def _sync(platform: StripeSalesPlatform, credentials: dict[str, str], days: int = 30) -> list[Any]:
    since = datetime.now(UTC) - timedelta(days=days)
    return list(platform.fetch_purchases(credentials, since, lambda done, total, *, pages=None: None))


def _purchases(records: list[Any]) -> dict[str, PurchaseRecord]:
    return {r.platform_purchase_id: r for r in records if isinstance(r, PurchaseRecord)}


def _delivery(fake: FakeStripe, event: dict[str, Any], **signing: Any) -> WebhookDelivery:
    body, headers = fake.sign(event, **signing)
    return WebhookDelivery(headers, body)


# ---- connect -------------------------------------------------------------------------------------


def test_a_restricted_key_with_read_on_the_five_resources_connects(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str]
) -> None:
    check = platform.check_credentials(credentials)
    assert check.ok, check.message
    read = {r.path for r in fake.requests}
    assert read == {"/v1/charges", "/v1/payment_intents", "/v1/customers", "/v1/checkout/sessions", "/v1/events"}


def test_a_key_without_one_permission_says_which_to_add(platform: StripeSalesPlatform, fake: FakeStripe) -> None:
    key = fake.add_restricted_key([p for p in SALES_PERMISSIONS if p != "checkout_session"])
    check = platform.check_credentials({"api_key": key})
    assert not check.ok
    assert "may not read Checkout Sessions" in check.message
    assert "set Checkout Sessions to Read" in check.message


@pytest.mark.parametrize(
    ("key", "secret", "says"),
    [
        ("rk_test_not_a_real_key", "", "Stripe refused this key"),
        ("pk_test_123", "", "publishable key"),
        ("hello", "", "not a Stripe API key"),
        (None, "not-a-whsec", "starts with whsec_"),
    ],
)
def test_a_wrong_key_or_secret_says_what_to_paste(
    platform: StripeSalesPlatform, fake: FakeStripe, key: str | None, secret: str, says: str
) -> None:
    check = platform.check_credentials({"api_key": key or fake.add_restricted_key(), "webhook_secret": secret})
    assert not check.ok
    assert says in check.message


def test_the_connect_form_explains_the_restricted_key_and_the_endpoint(platform: StripeSalesPlatform) -> None:
    key, secret = platform.credential_fields
    for words in ("Create restricted key", "Charges", "PaymentIntents", "Customers", "Checkout Sessions", "Events"):
        assert words in key.help
    assert (key.required, key.secret) == (True, True)
    assert (secret.required, secret.secret) == (False, True)
    for event in ("payment_intent.succeeded", "charge.refunded", "checkout.session.completed", "whsec_"):
        assert event in secret.help


# ---- sync ----------------------------------------------------------------------------------------


def test_a_sync_reads_30_days_of_charges_page_by_page_with_progress(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str]
) -> None:
    sales = fake.seed_sales(230, days=30, seed=4)
    fake.sell(9_900, email="old@example.com", created=fake.now() - 40 * DAY)
    seen: list[tuple[int, int | None, int | None]] = []
    since = datetime.now(UTC) - timedelta(days=30)

    def progress(done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
        seen.append((done, total, pages))

    records = list(platform.fetch_purchases(credentials, since, progress))

    purchases = _purchases(records)
    assert set(purchases) == {sale["payment_intent"]["id"] for sale in sales}
    charge_calls = fake.calls("GET", "/v1/charges")
    assert len(charge_calls) == 3  # 100 + 100 + 30
    assert charge_calls[0].params["created"] == {"gte": str(int(since.timestamp()))}
    assert "starting_after" in charge_calls[1].params
    assert [done for done, _, _ in seen] == sorted(done for done, _, _ in seen)
    assert seen[-1][:2] == (230, 230)
    assert seen[-1][2] == len(fake.calls("GET", "/v1/charges")) + len(fake.calls("GET", "/v1/payment_intents")) + len(
        fake.calls("GET", "/v1/checkout/sessions")
    )
    refunded = {s["payment_intent"]["id"] for s in sales if s["charge"]["amount_refunded"]}
    assert {r.platform_purchase_id for r in records if isinstance(r, RefundRecord)} == refunded


def test_the_buyer_email_and_course_come_from_metadata_first_then_the_fallbacks(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str]
) -> None:
    spec = fake.sell(
        4_900,
        email="receipt@example.com",
        metadata={"course_name": "Spec Course", "customer_email": "Spec@Example.com"},
        client_reference_id="visitor-0001",
    )
    receipt_only = fake.sell(5_900, email="Receipt@Example.com", course_name="Line Item Course")
    customer_only = fake.sell(6_900, customer_email="customer@example.com", checkout=False, course_name="Described")
    nobody = fake.sell(7_900, checkout=False)

    purchases = _purchases(_sync(platform, credentials))

    first = purchases[spec["payment_intent"]["id"]]
    assert (first.email, first.course_name, first.visitor_key) == ("spec@example.com", "Spec Course", "visitor-0001")
    assert first.amount == Money(4_900, "USD")
    second = purchases[receipt_only["payment_intent"]["id"]]
    assert (second.email, second.course_name, second.visitor_key) == ("receipt@example.com", "Line Item Course", None)
    third = purchases[customer_only["payment_intent"]["id"]]
    assert (third.email, third.course_name) == ("customer@example.com", "Described")
    fourth = purchases[nobody["payment_intent"]["id"]]
    assert fourth.email is None  # kept all the same: stored, and shown as unmatched


def test_partial_refunds_are_one_refund_at_the_running_total(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str]
) -> None:
    sale = fake.sell(10_000, email="a@example.com")
    fake.refund(sale["charge"]["id"], 2_500)
    fake.refund(sale["charge"]["id"], 1_500)
    (refund,) = [r for r in _sync(platform, credentials) if isinstance(r, RefundRecord)]
    assert refund.platform_purchase_id == sale["payment_intent"]["id"]
    assert refund.platform_refund_id == f"{sale['charge']['id']}:refunded"
    assert refund.amount == Money(4_000, "USD")


def test_a_revoked_key_stops_the_sync_with_a_sentence(platform: StripeSalesPlatform, fake: FakeStripe) -> None:
    with pytest.raises(CredentialsRejected, match="Stripe refused this key"):
        _sync(platform, {"api_key": "rk_test_revoked"})


# ---- webhooks ------------------------------------------------------------------------------------


def test_the_three_events_are_read_and_describe_one_sale(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str]
) -> None:
    sale = fake.sell(19_700, email="liam@example.com", course_name="Launch", client_reference_id="visitor-42abc")
    intent_event, charge_event, session_event = sale["events"]
    intent_id = sale["payment_intent"]["id"]

    (from_intent,) = platform.read_webhook(_delivery(fake, intent_event), credentials).records
    assert platform.read_webhook(_delivery(fake, charge_event), credentials).records == ()
    (from_session,) = platform.read_webhook(_delivery(fake, session_event), credentials).records
    assert from_intent.platform_purchase_id == from_session.platform_purchase_id == intent_id
    assert isinstance(from_session, PurchaseRecord)
    assert (from_session.visitor_key, from_session.email) == ("visitor-42abc", "liam@example.com")

    refund_event = fake.refund(sale["charge"]["id"], 7_700)
    batch = platform.read_webhook(_delivery(fake, refund_event), credentials)
    purchase, refund = batch.records
    assert isinstance(purchase, PurchaseRecord)
    assert purchase.platform_purchase_id == intent_id
    assert batch.event_id == refund_event["id"]
    assert isinstance(refund, RefundRecord)
    assert (refund.platform_purchase_id, refund.amount) == (intent_id, Money(7_700, "USD"))
    assert refund.refunded_at == datetime.fromtimestamp(refund_event["created"], UTC)


def test_confirm_records_looks_up_what_the_event_lacked(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str]
) -> None:
    sale = fake.sell(4_900, customer_email="only-on-customer@example.com", course_name="From Line Items")
    (record,) = platform.read_webhook(_delivery(fake, sale["events"][0]), credentials).records
    assert isinstance(record, PurchaseRecord)
    assert (record.email, record.course_name) == (None, None)
    (confirmed,) = platform.confirm_records(credentials, [record])
    assert isinstance(confirmed, PurchaseRecord)
    assert (confirmed.email, confirmed.course_name) == ("only-on-customer@example.com", "From Line Items")
    assert confirmed.amount == record.amount


def test_the_signature_is_checked_against_the_raw_body(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str]
) -> None:
    event = fake.sell(4_900, email="a@example.com")["events"][0]
    body, headers = fake.sign(event)
    assert platform.read_webhook(WebhookDelivery(headers, body), credentials).event_id == event["id"]

    reserialized = json.dumps(json.loads(body)).encode()  # same JSON, other bytes
    forged_amount = body.replace(b'"amount": 4900', b'"amount": 9')
    wrong_secret = fake.sign(event, secret="whsec_someone_else")
    too_old = fake.sign(event, timestamp=int(time.time()) - 301)
    for delivery in (
        WebhookDelivery(headers, reserialized),
        WebhookDelivery(headers, forged_amount),
        WebhookDelivery(wrong_secret[1], wrong_secret[0]),
        WebhookDelivery(too_old[1], too_old[0]),
        WebhookDelivery({}, body),
        WebhookDelivery({"stripe-signature": "garbage"}, body),
    ):
        with pytest.raises(WebhookRejected):
            platform.read_webhook(delivery, credentials)
    with pytest.raises(WebhookRejected, match="No webhook signing secret"):
        platform.read_webhook(WebhookDelivery(headers, body), {"api_key": credentials["api_key"]})


def test_during_a_secret_roll_any_v1_signature_may_match(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str]
) -> None:
    event = fake.sell(4_900, email="a@example.com")["events"][0]
    body, headers = fake.sign(event, secret="whsec_the_new_one", rolled_from=(fake.webhook_secret,))
    assert headers["Stripe-Signature"].count("v1=") == 2
    assert platform.read_webhook(WebhookDelivery(headers, body), credentials).event_id == event["id"]
    rolled = {**credentials, "webhook_secret": "whsec_the_new_one"}
    assert platform.read_webhook(WebhookDelivery(headers, body), rolled).event_id == event["id"]


def test_a_stored_delivery_read_again_later_is_still_authentic(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str]
) -> None:
    """The job reads a delivery again after it was stored: its age counts from when it was received."""
    event = fake.sell(4_900, email="a@example.com")["events"][0]
    sent_at = int(time.time()) - 3600
    body, headers = fake.sign(event, timestamp=sent_at)
    received_an_hour_ago = WebhookDelivery(headers, body, received_at=datetime.fromtimestamp(sent_at + 2, UTC))
    assert platform.read_webhook(received_an_hour_ago, credentials).event_id == event["id"]
    with pytest.raises(WebhookRejected):
        platform.read_webhook(WebhookDelivery(headers, body), credentials)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"object": "event"}',
        b'{"object": "event", "id": "evt_1", "type": "payment_intent.succeeded", "created": 1, "data": {}}',
        b'{"object": "event", "id": "evt_1", "type": "payment_intent.succeeded", "created": 1,'
        b' "data": {"object": {"id": "pi_1", "amount": "lots", "currency": "usd", "created": 1}}}',
        b"[" * 5000 + b"]" * 5000,
    ],
)
def test_a_signed_but_malformed_body_is_rejected_with_a_reason(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str], body: bytes
) -> None:
    from tests.fakes.stripe import signature_header

    headers = {"Stripe-Signature": signature_header(body, fake.webhook_secret, int(time.time()))}
    with pytest.raises(WebhookRejected) as rejected:
        platform.read_webhook(WebhookDelivery(headers, body), credentials)
    assert str(rejected.value)


def test_a_key_that_may_write_webhook_endpoints_gets_its_endpoint_made(
    platform: StripeSalesPlatform, fake: FakeStripe
) -> None:
    credentials = {"api_key": fake.add_restricted_key([*SALES_PERMISSIONS, "webhook_endpoint_write"])}
    url = "https://app.example/webhooks/stripe/7"
    (endpoint_id,) = platform.register_webhooks(credentials, url)
    endpoint = fake.webhook_endpoints[endpoint_id]
    assert endpoint["url"] == url
    assert sorted(endpoint["enabled_events"]) == sorted(
        ["payment_intent.succeeded", "charge.refunded", "checkout.session.completed"]
    )
    assert credentials["webhook_secret"] == endpoint["secret"]
    event = fake.sell(4_900, email="a@example.com")["events"][0]
    body, headers = fake.sign(event, secret=endpoint["secret"])
    assert platform.read_webhook(WebhookDelivery(headers, body), credentials).event_id == event["id"]
    platform.remove_webhooks(credentials, [endpoint_id, "we_already_gone"])
    assert fake.webhook_endpoints == {}


def test_a_read_only_key_leaves_the_endpoint_to_the_creator(
    platform: StripeSalesPlatform, fake: FakeStripe, credentials: dict[str, str]
) -> None:
    before = dict(credentials)
    assert platform.register_webhooks(credentials, "https://app.example/webhooks/stripe/7") == ()
    assert credentials == before
    assert fake.webhook_endpoints == {}
