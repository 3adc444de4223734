"""Example Shop passes CourseSignal's platform contract: one harness, one class."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from coursesignal_example_shop.fake import FakeShop

from coursesignal import WebhookDelivery
from coursesignal.testing import PRICE, PlatformContract, PlatformHarness


class ExampleShopHarness(PlatformHarness):
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
        order = self.fake.add_order(PRICE, email, days_ago=days_ago)
        self.orders[order["id"]] = order
        return str(order["id"])

    def webhook_for_new_sale(self, email: str) -> tuple[WebhookDelivery, str]:
        purchase_id = self.sell(0, email)
        return self.delivery(self.fake.event(self.orders[purchase_id])), purchase_id


class TestExampleShop(PlatformContract):
    harness = ExampleShopHarness
