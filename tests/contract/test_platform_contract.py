"""Every platform CourseSignal ships passes the contract of `coursesignal.testing`: Kajabi (built in),
Teachable and Stripe (plugins), each found the way the application finds it (the `coursesignal_platforms`
hook, with its API pointed at its own local fake through `api_urls`) and each exercised against that fake.

A third party's plugin runs the same contract from its own package (tests/example_plugin/test_contract.py);
here only what CourseSignal ships is required, whatever else happens to be installed.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from importlib.metadata import distribution
from typing import Any

import pluggy

from adapters.platforms.hookspecs import ENTRY_POINT_GROUP
from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry
from coursesignal import CredentialField, PlatformAdapter, WebhookDelivery, hookimpl
from coursesignal.container import builtin_platforms
from coursesignal.testing import PRICE, PlatformContract, PlatformHarness
from tests.fakes.kajabi import FakeKajabi
from tests.fakes.stripe import FakeStripe, signature_header
from tests.fakes.teachable import FakeTeachable


class KajabiHarness(PlatformHarness):
    name = "kajabi"

    def start(self, stack: ExitStack) -> str:
        self.fake = stack.enter_context(FakeKajabi())
        self.fake.add_site("Contract Academy")
        self.offer = self.fake.add_offer("Contract Course", PRICE)
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


class TeachableHarness(PlatformHarness):
    name = "teachable"

    def start(self, stack: ExitStack) -> str:
        self.fake = stack.enter_context(FakeTeachable())
        self.plan = self.fake.add_pricing_plan(self.fake.add_course("Contract Course"), PRICE)
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


class StripeHarness(PlatformHarness):
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
        sale = self.fake.sell(PRICE, email=email, created=self.fake.now() - int(days_ago * 86_400))
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
        sale = self.fake.sell(PRICE, email=buyer, custom_fields=[{**field, "text": {"value": student}}])
        body, headers = self.fake.sign(sale["events"][-1])  # checkout.session.completed
        return WebhookDelivery(headers, body), str(sale["payment_intent"]["id"])


class TestKajabi(PlatformContract):
    harness = KajabiHarness


class TestTeachable(PlatformContract):
    harness = TeachableHarness


class TestStripe(PlatformContract):
    harness = StripeHarness


HARNESSES = [KajabiHarness, TeachableHarness, StripeHarness]


def _shipped(manager: pluggy.PluginManager) -> set[str]:
    """The connectable platforms of CourseSignal's own distribution: the built-ins and its own entry points."""
    ours = {module.__name__ for module in builtin_platforms()}
    ours |= {e.name for e in distribution("coursesignal").entry_points if e.group == ENTRY_POINT_GROUP}
    return {p.name for p in PlatformRegistry(manager).all() if p.credential_fields and p.plugin in ours}


def test_every_platform_we_ship_is_in_the_contract() -> None:
    assert _shipped(build_plugin_manager(builtins=builtin_platforms())) == {h.name for h in HARNESSES}


class _Outsider(PlatformAdapter):
    name = "outsider"
    display_name = "Outsider"
    credential_fields = (CredentialField("key", "Key", help="From the outsider's settings."),)

    def read_webhook(self, delivery: Any, credentials: Any) -> Any:
        raise NotImplementedError

    def fetch_purchases(self, credentials: Any, since: Any, progress: Any) -> Any:
        return iter(())


def test_a_plugin_someone_else_installed_is_not_ours_to_require() -> None:
    class OutsidePlugin:
        @hookimpl
        def coursesignal_platforms(self) -> list[PlatformAdapter]:
            return [_Outsider()]

    manager = build_plugin_manager(builtins=builtin_platforms())
    manager.register(OutsidePlugin(), name="outside")
    assert _shipped(manager) == {h.name for h in HARNESSES}
