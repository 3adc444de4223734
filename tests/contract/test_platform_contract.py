"""One contract every platform passes: Kajabi (built in), Teachable and Stripe (plugins) and the example
third-party plugin, each found the way the application finds it (the `coursesignal_platforms` hook, with
its API pointed at its local fake through `api_urls`) and each exercised against its own fake server.

A new platform joins by adding a harness below: how to start its fake, what credentials it takes, how
to make a sale there and how the platform would deliver a webhook about it.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from adapters.platforms import kajabi
from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry
from coursesignal import (
    ConnectionCheck,
    CredentialsRejected,
    Money,
    PlatformAdapter,
    PurchaseRecord,
    RefundRecord,
    WebhookAuth,
    WebhookDelivery,
    WebhookRejected,
)
from tests.conftest import require
from tests.example_plugin.conftest import example_plugin_installed
from tests.example_plugin.fake_shop import FakeShop
from tests.fakes.kajabi import FakeKajabi
from tests.fakes.stripe import FakeStripe, signature_header
from tests.fakes.teachable import FakeTeachable

WINDOW = timedelta(days=30)


class Harness(ABC):
    """A platform's fake, and how to act out its side."""

    name: ClassVar[str]

    @abstractmethod
    def start(self, stack: ExitStack) -> str:
        """Start the fake; return the API URL the platform is pointed at."""

    @abstractmethod
    def credentials(self) -> dict[str, str]:
        """Credentials the fake accepts."""

    @abstractmethod
    def wrong_credentials(self) -> dict[str, str]:
        """Credentials the fake refuses."""

    @abstractmethod
    def sell(self, days_ago: float, email: str) -> str:
        """Make a sale `days_ago`; return the platform purchase id CourseSignal should know it by."""

    @abstractmethod
    def webhook_for_new_sale(self, email: str) -> tuple[WebhookDelivery, str]:
        """Make a sale now and the delivery announcing it; returns the delivery and the purchase id."""

    def delivery(self, body: bytes) -> WebhookDelivery:
        """`body` delivered as the platform delivers (signed, for a platform that signs)."""
        return WebhookDelivery({"Content-Type": "application/json"}, body)

    #: Whether the platform tells who a gift is for (PurchaseRecord.recipient_email); then `gift_webhook`
    #: acts one out.
    reports_recipients: ClassVar[bool] = False

    def gift_webhook(self, buyer: str, student: str) -> tuple[WebhookDelivery, str]:
        """`buyer` buys the course now for `student`: the delivery naming the student, and the purchase id."""
        raise NotImplementedError(f"{self.name} reports no gift recipients")


class KajabiHarness(Harness):
    name = "kajabi"

    def start(self, stack: ExitStack) -> str:
        self.fake = stack.enter_context(FakeKajabi())
        self.fake.add_site("Contract Academy")
        self.offer = self.fake.add_offer("Contract Course", 4_900)
        return str(self.fake.base_url)

    def credentials(self) -> dict[str, str]:
        return {"client_id": self.fake.key.client_id, "client_secret": self.fake.key.client_secret}

    def wrong_credentials(self) -> dict[str, str]:
        return {"client_id": self.fake.key.client_id, "client_secret": "not-the-secret"}

    def sell(self, days_ago: float, email: str) -> str:
        customer = self.fake.add_customer(email, "Buyer")
        when = datetime.now(UTC) - timedelta(days=days_ago)
        return str(self.fake.add_purchase(customer, self.offer, created_at=when).id)

    def webhook_for_new_sale(self, email: str) -> tuple[WebhookDelivery, str]:
        purchase_id = self.sell(0, email)
        body = self.fake.webhook_body("purchase", purchase_id)
        return self.delivery(json.dumps(body).encode()), purchase_id


class TeachableHarness(Harness):
    name = "teachable"

    def start(self, stack: ExitStack) -> str:
        self.fake = stack.enter_context(FakeTeachable())
        self.plan = self.fake.add_pricing_plan(self.fake.add_course("Contract Course"), 4_900)
        self.transactions: dict[str, Any] = {}
        return str(self.fake.api_url)

    def credentials(self) -> dict[str, str]:
        return {"api_key": self.fake.api_key}

    def wrong_credentials(self) -> dict[str, str]:
        return {"api_key": "not-the-key"}

    def sell(self, days_ago: float, email: str) -> str:
        txn = self.fake.add_purchase(self.fake.add_user(email), self.plan, at=self.fake.days_ago(days_ago))
        self.transactions[str(txn.id)] = txn
        return str(txn.id)

    def webhook_for_new_sale(self, email: str) -> tuple[WebhookDelivery, str]:
        purchase_id = self.sell(0, email)
        body = self.fake.event_body("Transaction.created", self.transactions[purchase_id])
        return self.delivery(json.dumps(body).encode()), purchase_id

    reports_recipients = True

    def gift_webhook(self, buyer: str, student: str) -> tuple[WebhookDelivery, str]:
        # The transaction's user paid; the sale's user is the student enrolled (Sale.created names both).
        txn = self.fake.add_purchase(self.fake.add_user(buyer), self.plan, student=self.fake.add_user(student))
        body = self.fake.event_body("Sale.created", txn)
        return self.delivery(json.dumps(body).encode()), str(txn.id)


class StripeHarness(Harness):
    name = "stripe"

    def start(self, stack: ExitStack) -> str:
        self.fake = stack.enter_context(FakeStripe())
        self.key = self.fake.add_restricted_key()
        return self.fake.base_url

    def credentials(self) -> dict[str, str]:
        return {"api_key": self.key, "webhook_secret": self.fake.webhook_secret}

    def wrong_credentials(self) -> dict[str, str]:
        return {"api_key": "rk_test_revoked", "webhook_secret": self.fake.webhook_secret}

    def sell(self, days_ago: float, email: str) -> str:
        sale = self.fake.sell(4_900, email=email, created=self.fake.now() - int(days_ago * 86_400))
        self._last = sale
        return str(sale["payment_intent"]["id"])

    def webhook_for_new_sale(self, email: str) -> tuple[WebhookDelivery, str]:
        purchase_id = self.sell(0, email)
        body, headers = self.fake.sign(self._last["events"][0])
        return WebhookDelivery(headers, body), purchase_id

    def delivery(self, body: bytes) -> WebhookDelivery:
        return WebhookDelivery(
            {"Stripe-Signature": signature_header(body, self.fake.webhook_secret, int(time.time()))}, body
        )

    reports_recipients = True

    def gift_webhook(self, buyer: str, student: str) -> tuple[WebhookDelivery, str]:
        # The creator's Checkout asks for the student's email in a custom field.
        field = {"key": "studentemail", "type": "text", "label": {"type": "custom", "custom": "Student's email"}}
        sale = self.fake.sell(4_900, email=buyer, custom_fields=[{**field, "text": {"value": student}}])
        body, headers = self.fake.sign(sale["events"][-1])  # checkout.session.completed
        return WebhookDelivery(headers, body), str(sale["payment_intent"]["id"])


class ExampleShopHarness(Harness):
    name = "example_shop"

    def start(self, stack: ExitStack) -> str:
        self.fake = stack.enter_context(FakeShop())
        self.orders: dict[str, dict[str, Any]] = {}
        return self.fake.base_url

    def credentials(self) -> dict[str, str]:
        return {"api_key": self.fake.api_key}

    def wrong_credentials(self) -> dict[str, str]:
        return {"api_key": "nope"}

    def sell(self, days_ago: float, email: str) -> str:
        order = self.fake.add_order(4_900, email, days_ago=days_ago)
        self.orders[order["id"]] = order
        return str(order["id"])

    def webhook_for_new_sale(self, email: str) -> tuple[WebhookDelivery, str]:
        purchase_id = self.sell(0, email)
        return self.delivery(self.fake.event(self.orders[purchase_id])), purchase_id


HARNESSES = [KajabiHarness, TeachableHarness, StripeHarness, ExampleShopHarness]


@pytest.fixture(params=HARNESSES, ids=lambda h: h.name)
def harness(request: pytest.FixtureRequest) -> Iterator[tuple[Harness, PlatformAdapter]]:
    """The platform as the application loads it: the built-ins plus every installed entry point."""
    if request.param is ExampleShopHarness:
        require(example_plugin_installed(), "the example plugin is not installed: run `make install`")
    with ExitStack() as stack:
        world = request.param()
        api_url = world.start(stack)
        registry = PlatformRegistry(build_plugin_manager(builtins=(kajabi,)), api_urls={world.name: api_url})
        yield world, registry.get(world.name)


def _connected(world: Harness, platform: PlatformAdapter) -> dict[str, str]:
    credentials = world.credentials()
    check = platform.check_credentials(credentials)
    assert check.ok, check.message
    if check.choices:
        credentials[check.choice_field] = check.choices[0].id
    return credentials


def _sync(platform: PlatformAdapter, credentials: dict[str, str], progress: Any = None) -> list[Any]:
    since = datetime.now(UTC) - WINDOW
    return list(
        platform.fetch_purchases(credentials, since, progress or (lambda done, total, *, pages=None, cursor=None: None))
    )


def test_every_platform_we_ship_or_test_is_in_the_contract() -> None:
    require(example_plugin_installed(), "the example plugin is not installed: run `make install`")
    registry = PlatformRegistry(build_plugin_manager(builtins=(kajabi,)))
    connectable = {p.name for p in registry.all() if p.credential_fields}
    assert connectable == {h.name for h in HARNESSES}


def test_it_is_a_platform_adapter_registered_by_its_hook(harness: tuple[Harness, PlatformAdapter]) -> None:
    world, platform = harness
    assert isinstance(platform, PlatformAdapter)
    assert platform.name == world.name
    assert platform.display_name.strip()
    assert isinstance(platform.webhook_auth, WebhookAuth)
    names = [field.name for field in platform.credential_fields]
    assert names
    assert len(set(names)) == len(names)
    assert all(field.label.strip() and field.help.strip() for field in platform.credential_fields)


def test_good_credentials_connect_and_wrong_ones_get_a_sentence(harness: tuple[Harness, PlatformAdapter]) -> None:
    world, platform = harness
    _connected(world, platform)
    wrong = platform.check_credentials(world.wrong_credentials())
    assert isinstance(wrong, ConnectionCheck)
    assert not wrong.ok
    assert len(wrong.message.split()) >= 4  # a sentence that says what to do, not a code


def test_a_30_day_sync_yields_each_sale_once_with_its_progress(harness: tuple[Harness, PlatformAdapter]) -> None:
    world, platform = harness
    credentials = _connected(world, platform)
    inside = {world.sell(days, f"buyer{days}@example.com") for days in (0.1, 3, 12, 29)}
    world.sell(45, "long-ago@example.com")
    reported: list[int] = []

    def progress(done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
        reported.append(done)

    records = _sync(platform, credentials, progress)

    purchases = [r for r in records if isinstance(r, PurchaseRecord)]
    assert sorted(p.platform_purchase_id for p in purchases) == sorted(inside)
    since = datetime.now(UTC) - WINDOW - timedelta(minutes=1)
    for purchase in purchases:
        assert purchase.platform == platform.name
        assert isinstance(purchase.amount, Money)
        assert purchase.amount.amount == 4_900
        assert purchase.purchased_at.tzinfo is not None
        assert purchase.purchased_at >= since
        assert purchase.email is not None
        assert purchase.email.endswith("@example.com")
    assert all(isinstance(r, PurchaseRecord | RefundRecord) for r in records)
    assert reported
    assert reported == sorted(reported)
    assert reported[-1] == len(inside)
    again = [r.platform_purchase_id for r in _sync(platform, credentials) if isinstance(r, PurchaseRecord)]
    assert sorted(again) == sorted(inside)  # read twice, the same ids: stored once


def test_a_webhook_names_the_sale_by_the_id_the_sync_uses(harness: tuple[Harness, PlatformAdapter]) -> None:
    world, platform = harness
    credentials = _connected(world, platform)
    delivery, purchase_id = world.webhook_for_new_sale("hook@example.com")

    batch = platform.read_webhook(delivery, credentials)
    assert batch.event_id
    assert platform.read_webhook(delivery, credentials).event_id == batch.event_id  # a repeat is recognised
    confirmed = platform.confirm_batch(credentials, batch)  # what the job does with the stored delivery
    assert purchase_id in {r.platform_purchase_id for r in confirmed if isinstance(r, PurchaseRecord)}
    synced = {r.platform_purchase_id for r in _sync(platform, credentials) if isinstance(r, PurchaseRecord)}
    assert purchase_id in synced


def test_a_gift_names_its_student_where_the_platform_reports_one(harness: tuple[Harness, PlatformAdapter]) -> None:
    world, platform = harness
    credentials = _connected(world, platform)

    def purchase_in(delivery: WebhookDelivery, purchase_id: str) -> PurchaseRecord:
        records = platform.confirm_batch(credentials, platform.read_webhook(delivery, credentials))
        (purchase,) = [r for r in records if isinstance(r, PurchaseRecord) and r.platform_purchase_id == purchase_id]
        return purchase

    if world.reports_recipients:
        gift = purchase_in(*world.gift_webhook("giver@example.com", "student@example.com"))
        assert (gift.email, gift.recipient_email) == ("giver@example.com", "student@example.com")
    # a sale for oneself names no recipient
    own = purchase_in(*world.webhook_for_new_sale("self@example.com"))
    assert (own.email, own.recipient_email) == ("self@example.com", None)


@pytest.mark.parametrize(
    "body", [b"", b"null", b"[]", b"{}", b"\xff\xfe\x00", b'{"id": 1, "type": 2}', b"[" * 3000 + b"]" * 3000]
)
def test_an_unreadable_delivery_is_rejected_with_a_reason(
    harness: tuple[Harness, PlatformAdapter], body: bytes
) -> None:
    world, platform = harness
    credentials = _connected(world, platform)
    with pytest.raises(WebhookRejected) as rejected:
        platform.read_webhook(world.delivery(body), credentials)
    assert str(rejected.value).strip()


def test_refused_credentials_stop_a_sync_as_credentials_rejected(harness: tuple[Harness, PlatformAdapter]) -> None:
    world, platform = harness
    with pytest.raises(CredentialsRejected) as refused:
        _sync(platform, world.wrong_credentials())
    assert str(refused.value).strip()
