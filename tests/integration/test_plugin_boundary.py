"""The plugin boundary, through the real application: every record a platform plugin returns is checked
before anything is stored (a bad one fails its delivery at once, with the reason shown next to Replay), and
a plugin that raises harms only its own connections, deliveries and syncs."""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers
from flask.testing import FlaskClient
from sqlalchemy import select

from adapters.persistence import tables as t
from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry
from core.domain.connections import SYNC_FAILURE_EMAIL_AFTER
from coursesignal import (
    CredentialField,
    Credentials,
    Money,
    PlatformAdapter,
    PlatformRecord,
    PlatformUnavailable,
    PurchaseRecord,
    RefundRecord,
    SyncProgress,
    WebhookAuth,
    WebhookBatch,
    WebhookDelivery,
    WebhookRejected,
    hookimpl,
)
from coursesignal.container import Container, build_app, create_container
from tests.conftest import sign_in
from tests.fakes.teachable import FakeTeachable
from tests.web_session import mail_body, outbox_messages, post_form

NOW = datetime.now(UTC)


class Scripted(PlatformAdapter):
    """A plugin's platform that returns whatever records the test scripts: its webhooks only name an event."""

    name = "scripted"
    display_name = "Scripted Shop"
    credential_fields = (CredentialField("api_key", "API key", help="Any value.", secret=True),)
    webhook_auth = WebhookAuth.URL_TOKEN

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.synced: list[Any] = []
        self.seen_headers: list[Mapping[str, str]] = []
        self.seen_received_at: list[datetime | None] = []
        self.down = False

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        self.seen_headers.append(delivery.headers)
        self.seen_received_at.append(delivery.received_at)
        try:
            return WebhookBatch(event_id=str(json.loads(delivery.body)["event_id"]))
        except (ValueError, KeyError, TypeError):
            raise WebhookRejected("not an event") from None

    def confirm_batch(self, credentials: Credentials, batch: WebhookBatch) -> Sequence[PlatformRecord]:
        return list(self.records)

    def fetch_purchases(self, credentials: Credentials, since: datetime, progress: SyncProgress) -> Iterator[Any]:
        if self.down:
            raise PlatformUnavailable("Scripted Shop is not answering right now (HTTP 503).")
        yield from self.synced
        progress(len(self.synced), len(self.synced), pages=1)


class Brittle(PlatformAdapter):
    """A plugin with a bug in every method that reads anything."""

    name = "brittle"
    display_name = "Brittle Shop"
    credential_fields = (CredentialField("api_key", "API key", help="Any value.", secret=True),)
    webhook_auth = WebhookAuth.URL_TOKEN

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        raise RuntimeError("the plugin's own bug")

    def fetch_purchases(self, credentials: Credentials, since: datetime, progress: SyncProgress) -> Iterator[Any]:
        raise KeyError("orders")


class ScriptedPlugin:
    def __init__(self) -> None:
        self.scripted, self.brittle = Scripted(), Brittle()

    @hookimpl
    def coursesignal_platforms(self) -> list[PlatformAdapter]:
        return [self.scripted, self.brittle]


@dataclass
class World:
    container: Container
    client: FlaskClient
    account_id: int
    plugin: ScriptedPlugin
    teachable: FakeTeachable

    def connect(self, platform: str, api_key: str = "key") -> tuple[int, str]:
        """Connect a platform; returns the connection id and the webhook path the creator would paste."""
        connections = self.container.services.connections()
        connection = connections.connect(self.account_id, platform, {"api_key": api_key}).connection
        self.container.gateways.job_queue().wait_until_idle()
        setup = connections.webhook_setup(self.account_id, connection.id)
        assert setup is not None
        return connection.id, setup.url.removeprefix("http://coursesignal.test")

    def purchases(self) -> list[dict[str, Any]]:
        body = self.client.get("/api/v1/purchases").json
        assert body is not None
        return list(body["purchases"] if isinstance(body, dict) else body)

    def page(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, path
        return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def world(settings) -> Iterator[World]:  # type: ignore[no-untyped-def]
    with FakeTeachable() as teachable:
        settings = dataclasses.replace(settings, platform_api_urls={"teachable": teachable.api_url})
        container = create_container(settings)
        plugin = ScriptedPlugin()
        manager = build_plugin_manager()  # every installed plugin (Teachable, Stripe, ...) as well
        manager.register(plugin, name="scripted-plugin")
        container.platforms.registry.override(providers.Object(PlatformRegistry(manager, settings.platform_api_urls)))
        app = build_app(settings, container)
        app.config["TESTING"] = True
        client = app.test_client()
        try:
            yield World(container, client, sign_in(client, container), plugin, teachable)
        finally:
            container.gateways.job_queue().stop()
            container.unwire()
            container.gateways.inbox().close()
            container.gateways.engine().dispose()


def _purchase(**changes: Any) -> PurchaseRecord:
    record = PurchaseRecord("scripted", "p-1", Money(4_900, "USD"), NOW - timedelta(hours=1), email="ava@example.com")
    return dataclasses.replace(record, **changes)


def _refund(**changes: Any) -> RefundRecord:
    record = RefundRecord("scripted", "p-1", "r-1", Money(4_900, "USD"), NOW - timedelta(minutes=5))
    return dataclasses.replace(record, **changes)


# One bad field each (with a good purchase beside it in the same delivery, so "nothing stored" means nothing),
# and the words the reason shows.
INVALID = {
    "another platform's name": (
        _purchase(platform="teachable", platform_purchase_id="p-2"),
        "its platform is 'teachable'",
    ),
    "empty id": (_purchase(platform_purchase_id="  "), "platform_purchase_id is empty"),
    "id not text": (_purchase(platform_purchase_id=42), "platform_purchase_id is not text"),
    "negative amount": (_purchase(platform_purchase_id="p-2", amount=Money(-500, "USD")), "amount -500 is not between"),
    "amount of 2^70": (_purchase(platform_purchase_id="p-2", amount=Money(2**70, "USD")), "is not between 0 and"),
    "unknown currency": (_purchase(platform_purchase_id="p-2", amount=Money(100, "XYZ")), "'XYZ' is not an ISO 4217"),
    "malformed email": (_purchase(platform_purchase_id="p-2", email="not an email"), "is not an email address"),
    "date in 2099": (
        _purchase(platform_purchase_id="p-2", purchased_at=datetime(2099, 1, 1, tzinfo=UTC)),
        "is in the future",
    ),
    "date before 2000": (
        _purchase(platform_purchase_id="p-2", purchased_at=datetime(1999, 12, 31, tzinfo=UTC)),
        "is before 2000",
    ),
    "date without a time zone": (
        _purchase(platform_purchase_id="p-2", purchased_at=datetime(2026, 1, 1)),  # noqa: DTZ001 - the point
        "purchased_at has no time zone",
    ),
    "NUL in a course name": (
        _purchase(platform_purchase_id="p-2", course_name="Course\x00A"),
        "course_name holds a NUL",
    ),
    "lone surrogate in an email": (
        _purchase(platform_purchase_id="p-2", email="a\ud800@example.com"),
        "email holds a NUL or an unpaired surrogate",
    ),
    "refund above the sale": (_refund(amount=Money(5_000, "USD")), "is more than its purchase"),
    "refund in the future": (_refund(refunded_at=datetime(2099, 1, 1, tzinfo=UTC)), "refunded_at 2099"),
    "not a record": ({"id": "p-2"}, "dict is neither a PurchaseRecord nor a RefundRecord"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_a_delivery_with_an_invalid_record_stores_nothing_and_fails_with_the_reason(world: World, case: str) -> None:
    bad, reason = INVALID[case]
    connection_id, hook_path = world.connect("scripted")
    world.plugin.scripted.records = [_purchase(), bad]

    assert world.client.post(hook_path, data=json.dumps({"event_id": "evt-1"})).status_code == 202
    world.container.gateways.job_queue().wait_until_idle()

    assert world.purchases() == []  # nothing of the delivery, not even its good purchase
    page = world.page(f"/connections/{connection_id}")
    assert "1 webhook delivery could not be counted" in page
    deliveries = world.page(f"/connections/{connection_id}/deliveries")
    assert reason in deliveries
    assert "Failed" in deliveries  # failed at once: reading it again cannot help until the plugin is fixed
    assert "Replay" in deliveries

    # The plugin's maker fixes it; the creator replays the delivery and the sale counts once.
    world.plugin.scripted.records = [_purchase()]
    (row,) = world.container.services.connections().unfinished_deliveries(world.account_id, connection_id)
    assert row.attempts == 1
    replayed = post_form(
        world.client,
        f"/connections/{connection_id}/deliveries/{row.id}/replay",
        {},
        form_page=f"/connections/{connection_id}/deliveries",
    )
    assert replayed.status_code in (302, 303)
    world.container.gateways.job_queue().wait_until_idle()
    assert [p["platform_purchase_id"] for p in world.purchases()] == ["p-1"]


def test_a_sync_page_with_an_invalid_record_stops_the_sync_with_the_reason(world: World) -> None:
    world.plugin.scripted.synced = [_purchase(email="ava@@example")]
    connection_id, _ = world.connect("scripted")
    status = world.client.get(f"/api/v1/connections/{connection_id}").json
    assert status is not None
    assert status["status"] == "needs_attention"
    assert "Scripted Shop sent a record CourseSignal cannot store: email 'ava@@example'" in status["reason"]
    assert world.purchases() == []


def test_a_refund_delivery_is_counted_as_a_refund(world: World) -> None:
    _, hook_path = world.connect("scripted")
    world.plugin.scripted.records = [_purchase()]
    world.client.post(hook_path, data=json.dumps({"event_id": "sale"}))
    world.container.gateways.job_queue().wait_until_idle()
    world.plugin.scripted.records = [_refund(amount=Money(900, "USD"))]
    world.client.post(hook_path, data=json.dumps({"event_id": "refund"}))
    world.container.gateways.job_queue().wait_until_idle()
    with world.container.gateways.engine().connect() as db:
        rows = db.execute(select(t.webhook_deliveries.c.event_id, t.webhook_deliveries.c.outcome)).all()
    outcomes = {row.event_id: row.outcome for row in rows}
    assert outcomes == {"sale": "1 added, 0 not confirmed", "refund": "0 added, 1 refund counted, 0 not confirmed"}


def test_plugins_get_headers_whatever_their_case_and_always_a_received_time(world: World) -> None:
    _, hook_path = world.connect("scripted")
    world.plugin.scripted.records = [_purchase()]
    response = world.client.post(
        hook_path, data=json.dumps({"event_id": "e"}), headers={"X-Shop-Signature": "abc", "content-type": "text/x"}
    )
    assert response.status_code == 202
    world.container.gateways.job_queue().wait_until_idle()
    # Read twice: in the request, and again by the job from the stored delivery.
    assert len(world.plugin.scripted.seen_headers) == 2
    for headers in world.plugin.scripted.seen_headers:
        assert headers["x-shop-signature"] == headers["X-SHOP-SIGNATURE"] == "abc"
        assert headers.get("Content-Type") == "text/x"
        assert "cookie" not in headers
    first, second = world.plugin.scripted.seen_received_at
    assert first is not None
    assert first == second  # the job measures from when the delivery arrived, not from when it runs
    assert abs((datetime.now(UTC) - first).total_seconds()) < 60


def test_a_plugin_raising_in_read_webhook_leaves_the_other_platforms_answering(world: World) -> None:
    _, brittle_path = world.connect("brittle")
    _, scripted_path = world.connect("scripted")
    _, teachable_path = world.connect("teachable", api_key=world.teachable.api_key)
    world.plugin.scripted.records = [_purchase()]
    plan = world.teachable.add_pricing_plan(world.teachable.add_course("Course"), 2_900)
    sale = world.teachable.add_purchase(
        world.teachable.add_user("ben@example.com"), plan, at=world.teachable.days_ago(0)
    )
    teachable_body = json.dumps(world.teachable.event_body("Transaction.created", sale))

    assert world.client.post(brittle_path, data=b'{"id": 1}').status_code == 503  # its own platform retries
    assert world.client.post(scripted_path, data=json.dumps({"event_id": "e1"})).status_code == 202
    assert world.client.post(teachable_path, data=teachable_body).status_code == 202
    assert world.client.post(brittle_path, data=b'{"id": 2}').status_code == 503
    world.container.gateways.job_queue().wait_until_idle()

    assert {p["platform_purchase_id"] for p in world.purchases()} == {"p-1", str(sale.id)}
    assert world.client.get("/connections/").status_code == 200


def test_a_plugin_raising_in_a_sync_fails_only_its_own_connection_with_a_sentence(world: World) -> None:
    brittle_id, _ = world.connect("brittle")
    world.plugin.scripted.synced = [_purchase()]
    scripted_id, _ = world.connect("scripted")

    brittle = world.client.get(f"/api/v1/connections/{brittle_id}").json
    scripted = world.client.get(f"/api/v1/connections/{scripted_id}").json
    assert brittle is not None
    assert scripted is not None
    assert brittle["status"] == "needs_attention"
    assert "The Brittle Shop plugin failed while reading purchases (KeyError)" in brittle["reason"]
    assert scripted["status"] == "connected"
    assert [p["platform_purchase_id"] for p in world.purchases()] == ["p-1"]


def test_a_failing_poll_shows_on_the_connection_and_the_creator_is_emailed_once(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    connection_id, _ = world.connect("scripted")
    connections = world.container.services.connections()
    world.plugin.scripted.down = True
    connections.poll(connection_id)

    status = world.client.get(f"/api/v1/connections/{connection_id}").json
    assert status is not None
    assert (status["status"], status["status_label"]) == ("connected", "Connected, not syncing")
    assert status["sync_health"]["failing"] is True
    assert status["sync_health"]["error"] == "Scripted Shop is not answering right now (HTTP 503)."
    page = world.page(f"/connections/{connection_id}")
    assert "Connected, not syncing" in page
    assert "status-failing" in page  # drawn as a problem, not in the green of a healthy connection
    assert "Scripted Shop is not answering right now (HTTP 503). Failing since " in page
    assert "Connected, not syncing" in world.page("/connections/")
    assert outbox_messages(settings.outbox_path) == []

    # An hour of failures later (the documented threshold), one email; not one per poll.
    with world.container.gateways.engine().begin() as db:
        db.execute(
            t.platform_integrations.update()
            .where(t.platform_integrations.c.id == connection_id)
            .values(failing_since=datetime.now(UTC) - SYNC_FAILURE_EMAIL_AFTER - timedelta(minutes=1))
        )
    connections.poll(connection_id)
    connections.poll(connection_id)
    world.container.gateways.job_queue().wait_until_idle()
    (mail,) = [m for m in outbox_messages(settings.outbox_path) if "cannot read" in str(m["Subject"])]
    assert mail["To"] == "creator@example.com"
    assert mail["Subject"] == "CourseSignal cannot read your Scripted Shop sales"
    assert f"http://coursesignal.test/connections/{connection_id}" in mail_body(mail)

    world.plugin.scripted.down = False
    world.plugin.scripted.synced = [_purchase()]
    connections.poll(connection_id)
    status = world.client.get(f"/api/v1/connections/{connection_id}").json
    assert status is not None
    assert (status["status_label"], status["reason"], status["sync_health"]["failing"]) == ("Connected", None, False)
    assert "not syncing" not in world.page(f"/connections/{connection_id}")
    assert [p["platform_purchase_id"] for p in world.purchases()] == ["p-1"]
