"""The Stripe BillingGateway against the fake Stripe, the billing repository on both databases, and the app
when billing is not configured."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.billing.stripe_checkout import StripeBilling
from adapters.persistence.database import create_database_engine
from adapters.persistence.unit_of_work import SqlUnitOfWork
from core.domain.money import Money
from core.domain.sites import Account
from core.domain.subscriptions import Subscription
from core.ports.billing import BillingUnavailable, CheckoutRequest, ForgedBillingEvent, UnreadableBillingEvent
from tests.conftest import empty_postgres, sign_in
from tests.fakes.stripe import FakeStripe, signature_header
from tests.web_session import post_form

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe() as running:
        running.add_price("price_monthly")
        yield running


def gateway_for(fake: FakeStripe, **overrides: str | None) -> StripeBilling:
    options: dict[str, str | None] = {
        "secret_key": fake.secret_key,
        "webhook_secret": fake.webhook_secret,
        "price_id": "price_monthly",
        "api_base": fake.base_url,
        **overrides,
    }
    return StripeBilling(**options)  # type: ignore[arg-type]


def test_the_gateway_drives_checkout_the_portal_and_reads_subscriptions(fake: FakeStripe) -> None:
    gateway = gateway_for(fake)
    customer_id = gateway.create_customer(7, "creator@example.com")
    url = gateway.create_checkout_session(
        CheckoutRequest(7, "creator@example.com", customer_id, "https://app.test/ok", "https://app.test/no")
    )
    session_id = url.rsplit("/", 1)[1]
    assert "trial_end" not in fake.checkout_sessions[session_id]["_subscription_data"]
    subscription_id = fake.complete_checkout(session_id)[-1]["data"]["object"]["subscription"]
    snapshot = gateway.fetch_subscription(subscription_id)
    assert (snapshot.subscription_id, snapshot.customer_id, snapshot.status, snapshot.account_id) == (
        subscription_id,
        customer_id,
        "active",
        7,
    )
    assert snapshot.current_period_end is not None
    assert snapshot.current_period_end > datetime.now(UTC) + timedelta(days=29)
    assert gateway.create_portal_session(customer_id, "https://app.test/billing").startswith(f"{fake.base_url}/portal/")


def test_without_a_customer_checkout_passes_the_email(fake: FakeStripe) -> None:
    gateway_for(fake).create_checkout_session(
        CheckoutRequest(7, "creator@example.com", None, "https://app.test/ok", "https://app.test/no")
    )
    sent = fake.calls("POST", "/v1/checkout/sessions")[-1].params
    assert sent["customer_email"] == "creator@example.com"
    assert "customer" not in sent


def test_stripe_refusing_becomes_a_sentence_and_the_detail_goes_to_the_log(
    fake: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(BillingUnavailable, match="try again in a minute"):
        gateway_for(fake, secret_key="sk_test_revoked").create_customer(7, "creator@example.com")
    assert "Invalid API Key" in caplog.text
    assert "sk_test_revoked" not in caplog.text
    with pytest.raises(BillingUnavailable, match="try again"):
        gateway_for(fake, price_id="price_deleted").create_checkout_session(
            CheckoutRequest(7, "creator@example.com", None, "https://app.test/ok", "https://app.test/no")
        )
    assert "No such price" in caplog.text


def test_unconfigured_billing_says_which_setting_is_missing(fake: FakeStripe) -> None:
    request = CheckoutRequest(7, "creator@example.com", None, "https://app.test/ok", "https://app.test/no")
    with pytest.raises(BillingUnavailable, match="STRIPE_SECRET_KEY"):
        gateway_for(fake, secret_key=None).create_checkout_session(request)
    with pytest.raises(BillingUnavailable, match="STRIPE_PRICE_ID"):
        gateway_for(fake, price_id=None).create_checkout_session(request)
    with pytest.raises(BillingUnavailable, match="STRIPE_WEBHOOK_SECRET"):
        gateway_for(fake, webhook_secret=None).read_event(b"{}", "t=1,v1=00")
    assert not fake.requests


def test_events_are_read_from_either_api_versions_shape(fake: FakeStripe) -> None:
    gateway = gateway_for(fake)
    older_invoice = {
        "id": "in_1",
        "object": "invoice",
        "customer": "cus_1",
        "subscription": "sub_1",  # before 2025-03-31 the subscription sat on the invoice itself
        "attempt_count": 2,
        "next_payment_attempt": 1_800_000_000,
        "amount_due": 9900,
        "currency": "usd",
    }
    body, headers = fake.sign(fake.event("invoice.payment_failed", older_invoice))
    event = gateway.read_event(body, headers["Stripe-Signature"])
    assert event.invoice is not None
    assert (event.invoice.subscription_id, event.invoice.attempt_count, event.invoice.amount_due) == (
        "sub_1",
        2,
        Money(9900, "USD"),
    )
    assert event.invoice.next_payment_attempt == datetime.fromtimestamp(1_800_000_000, UTC)

    older_subscription = {"id": "sub_1", "object": "subscription", "customer": {"id": "cus_1"}, "status": "past_due"}
    older_subscription["current_period_end"] = 1_800_000_000
    body, headers = fake.sign(fake.event("customer.subscription.updated", older_subscription))
    snapshot = gateway.read_event(body, headers["Stripe-Signature"]).subscription
    assert snapshot is not None
    assert (snapshot.customer_id, snapshot.current_period_end) == ("cus_1", datetime.fromtimestamp(1_800_000_000, UTC))

    body, headers = fake.sign(fake.event("charge.succeeded", {"id": "ch_1", "object": "charge"}))
    unused = gateway.read_event(body, headers["Stripe-Signature"])
    assert (unused.type, unused.checkout, unused.subscription, unused.invoice) == ("charge.succeeded", None, None, None)


def test_a_signed_but_unreadable_event_is_unreadable_and_a_bad_signature_is_forged(fake: FakeStripe) -> None:
    gateway = gateway_for(fake)
    body, headers = fake.sign(fake.event("invoice.paid", {"object": "invoice", "customer": "cus_1"}))
    with pytest.raises(UnreadableBillingEvent, match="cannot be read"):
        gateway.read_event(body, headers["Stripe-Signature"])
    not_json = b"not json"
    with pytest.raises(UnreadableBillingEvent):
        gateway.read_event(not_json, signature_header(not_json, fake.webhook_secret, int(time.time())))
    not_text = b"\xff\xfe{}"
    with pytest.raises(UnreadableBillingEvent, match="UTF-8"):
        gateway.read_event(not_text, signature_header(not_text, fake.webhook_secret, int(time.time())))
    with pytest.raises(ForgedBillingEvent):
        gateway.read_event(json.dumps({"id": "evt_1"}).encode(), None)
    with pytest.raises(ForgedBillingEvent):  # unreadable, but its signature is checked first
        gateway.read_event(not_json, signature_header(not_json, "whsec_someone_else", int(time.time())))


def test_the_billing_repository_round_trips_and_records_each_event_once(database_url: str) -> None:
    engine = create_database_engine(database_url)
    with SqlUnitOfWork(engine) as uow:
        account = uow.accounts.add(Account(email="creator@example.com", created_at=T0))
        assert account.id is not None
        assert uow.billing.get(account.id) is None
        assert uow.billing.trial_ends_at(account.id) is None
        first = Subscription(account_id=account.id, stripe_customer_id="cus_1")
        uow.billing.save(first)
        later = Subscription(
            account_id=account.id,
            stripe_customer_id="cus_1",
            stripe_subscription_id="sub_1",
            stripe_status="past_due",
            cancel_at_period_end=True,
            current_period_end=T0 + timedelta(days=30),
            trial_end=T0,
            failed_payment_attempts=2,
            next_payment_attempt=T0 + timedelta(days=5),
            status_as_of=T0,
            payment_as_of=T0 + timedelta(seconds=1),
        )
        uow.billing.save(later)
        assert uow.billing.record_event("evt_1", "invoice.paid", T0, T0)
        assert not uow.billing.record_event("evt_1", "invoice.paid", T0, T0)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        assert uow.billing.get(account.id) == later
        assert uow.billing.account_for_customer("cus_1") == account.id
        assert uow.billing.account_for_customer("cus_2") is None
        assert not uow.billing.record_event("evt_1", "invoice.paid", T0, T0)
    engine.dispose()


def test_without_stripe_settings_the_app_says_billing_is_not_set_up(client, container) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, container)
    page = post_form(client, "/billing/checkout", {}, form_page="/billing")
    assert page.status_code == 503
    assert "Billing is not set up on this server yet" in page.text
    webhook = client.post("/billing/webhook", data=b"{}", headers={"Stripe-Signature": "t=1,v1=00"})
    assert webhook.status_code == 503
    assert "STRIPE_WEBHOOK_SECRET" in webhook.json["error"]
    assert client.get("/billing").status_code == 200


@pytest.mark.postgres
def test_two_events_for_one_account_are_applied_one_after_the_other(postgres_database: str) -> None:
    engine = create_database_engine(postgres_database)
    with SqlUnitOfWork(engine) as uow:
        account = uow.accounts.add(Account(email="locked@example.com", created_at=T0))
        uow.commit()
    assert account.id is not None
    account_id = account.id
    second_got_it = threading.Event()

    def second_event() -> None:
        with SqlUnitOfWork(engine) as uow:
            uow.billing.get(account_id, for_update=True)
            second_got_it.set()

    with SqlUnitOfWork(engine) as uow:
        uow.billing.get(account_id, for_update=True)
        other = threading.Thread(target=second_event)
        other.start()
        assert not second_got_it.wait(0.3)  # held while the first event is being applied
        uow.commit()
    assert second_got_it.wait(5)
    other.join()
    engine.dispose()
    empty_postgres(postgres_database)  # the next test on this session's database starts empty, ids from 1


def test_the_gateway_cancels_a_subscription_and_a_missing_one_is_no_error(fake: FakeStripe) -> None:
    gateway = gateway_for(fake)
    customer_id = gateway.create_customer(7, "creator@example.com")
    url = gateway.create_checkout_session(
        CheckoutRequest(7, "creator@example.com", customer_id, "https://app.test/ok", "https://app.test/no")
    )
    subscription_id = fake.complete_checkout(url.rsplit("/", 1)[1])[-1]["data"]["object"]["subscription"]
    gateway.cancel_subscription(subscription_id)
    assert fake.subscriptions[subscription_id]["status"] == "canceled"
    gateway.cancel_subscription("sub_never_existed")
    with pytest.raises(BillingUnavailable):
        gateway_for(fake, secret_key="sk_test_revoked").cancel_subscription(subscription_id)
