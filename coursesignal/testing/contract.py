"""The platform contract: what every platform, built in or a third party's plugin, must do.

A plugin author runs it against their own platform and its fake by subclassing `PlatformContract` in a
test module, naming a `PlatformHarness` (how to start the fake, its credentials, how to make a sale there
and how the platform delivers a webhook about it):

    class TestExampleShop(PlatformContract):
        harness = ExampleShopHarness

pytest then runs every check below against that platform, loaded exactly as the application loads it: the
built-in platforms plus every installed plugin, through the `coursesignal_platforms` hook, with the API
pointed at the fake through `api_urls` (what `COURSESIGNAL_<NAME>_API_URL` does), and behind the same
checks the application puts every platform behind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry
from core.domain.money import Money
from core.domain.purchases import record_problem
from core.ports.platforms import (
    ConnectionCheck,
    CredentialsRejected,
    PlatformAdapter,
    PurchaseRecord,
    RefundRecord,
    WebhookAuth,
    WebhookDelivery,
    WebhookRejected,
)
from coursesignal.container import builtin_platforms

#: How far back the first sync reads.
WINDOW = timedelta(days=30)
#: The amount every harness sells at, in minor units.
PRICE = 4_900


class PlatformHarness(ABC):
    """A platform's fake, and how to act out the platform's side of a sale."""

    #: The platform's `name`, as its plugin registers it.
    name: ClassVar[str]

    @abstractmethod
    def start(self, stack: ExitStack) -> str:
        """Start the fake (enter it on `stack`, which closes it after the test); return the API URL the
        platform is pointed at."""

    @abstractmethod
    def credentials(self) -> dict[str, str]:
        """Credentials the fake accepts."""

    @abstractmethod
    def wrong_credentials(self) -> dict[str, str]:
        """Credentials the fake refuses."""

    @abstractmethod
    def sell(self, days_ago: float, email: str) -> str:
        """Make a sale of PRICE minor units `days_ago`; return the purchase id CourseSignal should know it by."""

    @abstractmethod
    def webhook_for_new_sale(self, email: str) -> tuple[WebhookDelivery, str]:
        """Make a sale now and the delivery announcing it; returns the delivery and the purchase id."""

    def delivery(self, body: bytes) -> WebhookDelivery:
        """`body` delivered as the platform delivers it (signed, for a platform that signs)."""
        return WebhookDelivery({"Content-Type": "application/json"}, body)

    #: Whether the platform tells who a gift is for (PurchaseRecord.recipient_email); then `gift_webhook`
    #: acts one out.
    reports_recipients: ClassVar[bool] = False

    def gift_webhook(self, buyer: str, student: str) -> tuple[WebhookDelivery, str]:
        """`buyer` buys the course now for `student`: the delivery naming the student, and the purchase id."""
        raise NotImplementedError(f"{self.name} reports no gift recipients")


def load_platform(harness: PlatformHarness, api_url: str) -> PlatformAdapter:
    """The platform as the application loads it: built-ins plus every installed plugin, checked."""
    registry = PlatformRegistry(build_plugin_manager(builtins=builtin_platforms()), api_urls={harness.name: api_url})
    return registry.load().get(harness.name)


def _no_progress(done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
    return None


class PlatformContract:
    """The checks every platform passes. Subclass it as `Test...` with `harness = YourHarness`."""

    harness: ClassVar[type[PlatformHarness]]

    @pytest.fixture
    def platform(self) -> Iterator[tuple[PlatformHarness, PlatformAdapter]]:
        with ExitStack() as stack:
            world = self.harness()
            api_url = world.start(stack)
            yield world, load_platform(world, api_url)

    # ---- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def connected(world: PlatformHarness, platform: PlatformAdapter) -> dict[str, str]:
        credentials = world.credentials()
        check = platform.check_credentials(credentials)
        assert check.ok, check.message
        if check.choices:
            credentials[check.choice_field] = check.choices[0].id
        return credentials

    @staticmethod
    def sync(platform: PlatformAdapter, credentials: dict[str, str], progress: Any = None) -> list[Any]:
        since = datetime.now(UTC) - WINDOW
        return list(platform.fetch_purchases(credentials, since, progress or _no_progress))

    # ---- the contract ----------------------------------------------------------------------------
    def test_it_is_a_platform_adapter_registered_by_its_hook(
        self, platform: tuple[PlatformHarness, PlatformAdapter]
    ) -> None:
        world, adapter = platform
        assert isinstance(adapter, PlatformAdapter)
        assert adapter.name == world.name
        assert adapter.display_name.strip()
        assert isinstance(adapter.webhook_auth, WebhookAuth)
        names = [field.name for field in adapter.credential_fields]
        assert names, "a platform a creator connects asks for something"
        assert len(set(names)) == len(names)
        assert all(field.label.strip() and field.help.strip() for field in adapter.credential_fields)

    def test_good_credentials_connect_and_wrong_ones_get_a_sentence(
        self, platform: tuple[PlatformHarness, PlatformAdapter]
    ) -> None:
        world, adapter = platform
        self.connected(world, adapter)
        wrong = adapter.check_credentials(world.wrong_credentials())
        assert isinstance(wrong, ConnectionCheck)
        assert not wrong.ok
        assert len(wrong.message.split()) >= 4  # a sentence that says what to do, not a code

    def test_a_30_day_sync_yields_each_sale_once_with_its_progress(
        self, platform: tuple[PlatformHarness, PlatformAdapter]
    ) -> None:
        world, adapter = platform
        credentials = self.connected(world, adapter)
        inside = {world.sell(days, f"buyer{days}@example.com") for days in (0.1, 3, 12, 29)}
        world.sell(45, "long-ago@example.com")
        reported: list[int] = []

        def progress(done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
            reported.append(done)

        records = self.sync(adapter, credentials, progress)

        purchases = [r for r in records if isinstance(r, PurchaseRecord)]
        assert sorted(p.platform_purchase_id for p in purchases) == sorted(inside)
        since = datetime.now(UTC) - WINDOW - timedelta(minutes=1)
        for purchase in purchases:
            assert record_problem(purchase, adapter.name, datetime.now(UTC)) is None
            assert purchase.amount == Money(PRICE, purchase.amount.currency)
            assert purchase.purchased_at >= since
            assert purchase.email is not None
            assert purchase.email.endswith("@example.com")
        assert all(isinstance(r, PurchaseRecord | RefundRecord) for r in records)
        assert reported
        assert reported == sorted(reported)
        assert reported[-1] == len(inside)
        again = [r.platform_purchase_id for r in self.sync(adapter, credentials) if isinstance(r, PurchaseRecord)]
        assert sorted(again) == sorted(inside)  # read twice, the same ids: stored once

    def test_a_webhook_names_the_sale_by_the_id_the_sync_uses(
        self, platform: tuple[PlatformHarness, PlatformAdapter]
    ) -> None:
        world, adapter = platform
        credentials = self.connected(world, adapter)
        delivery, purchase_id = world.webhook_for_new_sale("hook@example.com")

        batch = adapter.read_webhook(delivery, credentials)
        assert batch.event_id
        assert adapter.read_webhook(delivery, credentials).event_id == batch.event_id  # a repeat is recognised
        confirmed = adapter.confirm_batch(credentials, batch)  # what the job does with the stored delivery
        assert purchase_id in {r.platform_purchase_id for r in confirmed if isinstance(r, PurchaseRecord)}
        synced = {r.platform_purchase_id for r in self.sync(adapter, credentials) if isinstance(r, PurchaseRecord)}
        assert purchase_id in synced

    def test_a_gift_names_its_student_where_the_platform_reports_one(
        self, platform: tuple[PlatformHarness, PlatformAdapter]
    ) -> None:
        world, adapter = platform
        credentials = self.connected(world, adapter)

        def purchase_in(delivery: WebhookDelivery, purchase_id: str) -> PurchaseRecord:
            records = adapter.confirm_batch(credentials, adapter.read_webhook(delivery, credentials))
            (purchase,) = [
                r for r in records if isinstance(r, PurchaseRecord) and r.platform_purchase_id == purchase_id
            ]
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
        self, platform: tuple[PlatformHarness, PlatformAdapter], body: bytes
    ) -> None:
        world, adapter = platform
        credentials = self.connected(world, adapter)
        with pytest.raises(WebhookRejected) as rejected:
            adapter.read_webhook(world.delivery(body), credentials)
        assert str(rejected.value).strip()

    def test_refused_credentials_stop_a_sync_as_credentials_rejected(
        self, platform: tuple[PlatformHarness, PlatformAdapter]
    ) -> None:
        world, adapter = platform
        with pytest.raises(CredentialsRejected) as refused:
            self.sync(adapter, world.wrong_credentials())
        assert str(refused.value).strip()
