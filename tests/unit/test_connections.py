"""The connections use cases against in-memory fakes and a scripted platform (a PlatformAdapter double)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from adapters.platforms.webhook_auth import UrlTokenAuth
from core.domain.connections import SYNC_FAILURE_EMAIL_AFTER, ConnectionStatus
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.domain.sites import Account
from core.ports.platforms import (
    ConnectChoice,
    ConnectionCheck,
    CredentialField,
    Credentials,
    CredentialsRejected,
    PlatformAdapter,
    PlatformRecord,
    PlatformUnavailable,
    SyncProgress,
    WebhookAuth,
    WebhookBatch,
    WebhookDelivery,
    WebhookRejected,
)
from core.services.connections import (
    DELIVERY_TASK,
    POLL_TASK,
    REPLAY_TASK,
    SYNC_TASK,
    ConnectionFailed,
    Connections,
    UnknownConnection,
    WebhookOutcome,
)
from core.services.purchases import Purchases
from tests.unit.fakes import (
    FakeUnitOfWork,
    FixedClock,
    RecordingJobQueue,
    RecordingMailer,
    ReversibleCipher,
    Store,
)


class ScriptedPlatform(PlatformAdapter):
    """A platform whose answers a test sets; it refreshes a token on every read, like OAuth platforms."""

    name = "scripted"
    display_name = "Scripted"
    credential_fields = (CredentialField("key", "API key", secret=True),)

    def __init__(self) -> None:
        self.sites = (ConnectChoice("s1", "School One"),)
        self.refuse: str | None = None
        self.unavailable = False
        self.records: list[PlatformRecord] = []
        self.hooks: dict[str, str] = {}
        self.hooks_made = 0
        self.reads: list[datetime] = []

    def check_credentials(self, credentials: Credentials) -> ConnectionCheck:
        if credentials["key"] != "good":
            return ConnectionCheck(False, "That key is wrong: copy it again.")
        credentials["token"] = "granted"
        return ConnectionCheck(True, choices=self.sites, choice_field="site")

    def fetch_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        self.reads.append(since)
        credentials["token"] = f"refreshed-{len(self.reads)}"
        if self.refuse:
            raise CredentialsRejected(self.refuse)
        if self.unavailable:
            raise PlatformUnavailable("Scripted is down.")
        for done, record in enumerate(self.records, start=1):
            progress(done, len(self.records), pages=done)
            yield record

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        body = json.loads(delivery.body)
        if "id" not in body:
            raise WebhookRejected("no id")
        return WebhookBatch(
            event_id=body["id"], records=tuple(r for r in self.records if r.platform_purchase_id in body["ids"])
        )

    def confirm_records(self, credentials: Credentials, records: Sequence[PlatformRecord]) -> Sequence[PlatformRecord]:
        return [r for r in records if r.platform_purchase_id != "forged"]

    def register_webhooks(self, credentials: Credentials, target_url: str) -> tuple[str, ...]:
        self.hooks_made += 1
        hook_id = f"hook-{self.hooks_made}"
        self.hooks[hook_id] = target_url
        return (hook_id,)

    def remove_webhooks(self, credentials: Credentials, webhook_ids: Sequence[str]) -> None:
        for hook_id in webhook_ids:
            self.hooks.pop(hook_id, None)


class Catalog:
    def __init__(self, platform: PlatformAdapter) -> None:
        self.platform = platform

    def get(self, name: str) -> PlatformAdapter:
        if name != self.platform.name:
            raise KeyError(name)
        return self.platform

    def all(self) -> Sequence[PlatformAdapter]:
        return [self.platform]


class World:
    def __init__(self, platform: ScriptedPlatform | None = None) -> None:
        self.store = Store()
        self.clock = FixedClock()
        self.jobs = RecordingJobQueue()
        self.platform = platform or ScriptedPlatform()
        self.cipher = ReversibleCipher()
        self.mailer = RecordingMailer()
        self.store.accounts[1] = Account("creator@example.com", self.clock.now(), id=1)
        uow = lambda: FakeUnitOfWork(self.store)  # noqa: E731
        catalog = Catalog(self.platform)
        self.connections = Connections(
            uow,
            catalog,
            Purchases(uow, catalog),
            self.cipher,
            UrlTokenAuth(),
            self.jobs,
            self.clock,
            "https://app.example/",
            mailer=self.mailer,
        )

    def run_jobs(self) -> None:
        runners = {
            SYNC_TASK: self.connections.run_sync,
            POLL_TASK: self.connections.poll,
            DELIVERY_TASK: self.connections.process_delivery,
            REPLAY_TASK: self.connections.process_delivery,
        }
        while self.jobs.jobs:
            task, args = self.jobs.jobs.pop(0)
            runners[task](*args)  # type: ignore[operator]

    def purchase(self, pid: str, cents: int = 4900) -> PurchaseRecord:
        return PurchaseRecord("scripted", pid, Money(cents, "USD"), self.clock.now(), email=f"{pid}@example.com")

    def token(self) -> str:
        (url,) = self.platform.hooks.values()
        return url.rsplit("/", 1)[1]


@pytest.fixture
def world() -> World:
    return World()


def test_bad_credentials_store_nothing_and_say_what_to_fix(world: World) -> None:
    with pytest.raises(ConnectionFailed, match="That key is wrong"):
        world.connections.connect(1, "scripted", {"key": "bad"})
    with pytest.raises(ConnectionFailed, match="Fill in API key"):
        world.connections.connect(1, "scripted", {"key": " "})
    assert world.store.connections == {}


def test_one_site_is_chosen_for_the_creator_and_the_sync_runs_with_progress(world: World) -> None:
    world.platform.records = [world.purchase("p1"), world.purchase("p2")]
    result = world.connections.connect(1, "scripted", {"key": "good"})
    assert result.connection.status is ConnectionStatus.SYNCING
    assert result.connection.account_name == "School One"
    (url,) = world.platform.hooks.values()
    assert url.startswith(f"https://app.example/webhooks/scripted/{result.connection.id}/")
    stored = world.store.connections[result.connection.id]
    assert b"good" not in stored.sealed_credentials  # type: ignore[operator]
    assert url.rsplit("/", 1)[1] not in (stored.webhook_token_hash or "")
    world.run_jobs()
    view = world.connections.status(1, result.connection.id)
    assert view.status is ConnectionStatus.CONNECTED
    assert (view.purchases_found, view.last_synced_at) == (2, world.clock.now())
    assert world.platform.reads == [world.clock.now() - timedelta(days=30)]
    assert json.loads(world.cipher.decrypt(world.store.connections[view.id].sealed_credentials or b""))["token"] == (
        "refreshed-1"
    )


def test_several_sites_wait_for_the_creator_to_choose(world: World) -> None:
    world.platform.sites = (ConnectChoice("s1", "School One"), ConnectChoice("s2", "School Two"))
    result = world.connections.connect(1, "scripted", {"key": "good"})
    assert result.needs_choice
    assert len(result.choices) == 2
    assert world.jobs.jobs == []
    with pytest.raises(ConnectionFailed, match="Choose one"):
        world.connections.choose(1, result.connection.id, "s9")
    with pytest.raises(UnknownConnection):
        world.connections.choose(2, result.connection.id, "s2")
    view = world.connections.choose(1, result.connection.id, "s2")
    assert (view.status, view.account_name) == (ConnectionStatus.SYNCING, "School Two")
    credentials = json.loads(world.cipher.decrypt(world.store.connections[view.id].sealed_credentials or b""))
    assert credentials["site"] == "s2"


def test_webhooks_authenticate_first_then_store_once(world: World) -> None:
    world.platform.records = [world.purchase("p1"), world.purchase("forged")]
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    world.run_jobs()
    world.platform.records.append(world.purchase("p3"))
    body = json.dumps({"id": "evt-1", "ids": ["p3", "forged"]}).encode()
    delivery = WebhookDelivery({}, body)

    def receive(*arguments: Any) -> WebhookOutcome:
        return world.connections.receive_webhook(*arguments).outcome

    assert receive("scripted", connection_id, "wrong-token", delivery) is WebhookOutcome.UNKNOWN
    assert receive("scripted", connection_id, None, delivery) is WebhookOutcome.UNKNOWN
    assert receive("scripted", 999, world.token(), delivery) is WebhookOutcome.UNKNOWN
    assert receive("other", connection_id, world.token(), delivery) is WebhookOutcome.UNKNOWN
    assert world.store.deliveries == {}
    assert receive("scripted", connection_id, world.token(), WebhookDelivery({}, b"{}")) is WebhookOutcome.REJECTED
    assert receive("scripted", connection_id, world.token(), delivery) is WebhookOutcome.ACCEPTED
    assert receive("scripted", connection_id, world.token(), delivery) is WebhookOutcome.DUPLICATE
    assert len(world.store.deliveries) == 1
    world.run_jobs()
    ids = sorted(p.platform_purchase_id for p in world.store.purchases.values())
    assert ids == ["forged", "p1", "p3"]  # "forged" came from the sync; the webhook's copy was not confirmed
    (delivery_row,) = world.store.deliveries.values()
    assert delivery_row.outcome == "1 added, 1 not confirmed"


def test_a_refused_key_needs_attention_and_a_reconnect_resumes_without_duplicates(world: World) -> None:
    world.platform.records = [world.purchase("p1")]
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    world.run_jobs()
    world.platform.refuse = "The key was deleted: create a new one and reconnect."
    world.clock.advance(minutes=5)
    assert world.connections.poll_live() == 1
    world.run_jobs()
    view = world.connections.status(1, connection_id)
    assert view.status is ConnectionStatus.NEEDS_ATTENTION
    assert view.reason == "The key was deleted: create a new one and reconnect."
    assert world.connections.poll_live() == 0

    world.platform.refuse = None
    world.platform.records.append(world.purchase("p2"))
    old_hooks = set(world.platform.hooks)
    result = world.connections.reconnect(1, connection_id, {"key": "good"})
    assert result.connection.status is ConnectionStatus.SYNCING
    assert not old_hooks & set(world.platform.hooks)  # the old hook was removed, a new one registered
    world.run_jobs()
    assert world.connections.status(1, connection_id).status is ConnectionStatus.CONNECTED
    assert sorted(p.platform_purchase_id for p in world.store.purchases.values()) == ["p1", "p2"]
    # The resumed sync started a day before the last good one, not 30 days back.
    assert world.platform.reads[-1] == world.clock.now() - timedelta(minutes=5) - timedelta(days=1)


def test_an_unreachable_platform_skips_a_poll_but_a_refund_arrives_with_the_next(world: World) -> None:
    world.platform.records = [world.purchase("p1")]
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    world.run_jobs()
    world.platform.unavailable = True
    world.connections.poll(connection_id)
    assert world.connections.status(1, connection_id).status is ConnectionStatus.CONNECTED
    world.platform.unavailable = False
    refund = RefundRecord("scripted", "p1", "r1", Money(4900, "USD"), world.clock.now())
    world.platform.records.append(refund)
    world.connections.poll(connection_id)
    world.connections.poll(connection_id)
    assert list(world.store.refunds) == [(next(iter(world.store.purchases)), "r1")]


def test_disconnect_removes_hooks_forgets_credentials_and_answers_gone(world: World) -> None:
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    token = world.token()
    view = world.connections.disconnect(1, connection_id)
    assert view.status is ConnectionStatus.DISCONNECTED
    assert world.platform.hooks == {}
    assert world.store.connections[connection_id].sealed_credentials is None
    delivery = WebhookDelivery({}, json.dumps({"id": "e", "ids": []}).encode())
    assert world.connections.receive_webhook("scripted", connection_id, token, delivery).outcome is WebhookOutcome.GONE
    assert (
        world.connections.receive_webhook("scripted", connection_id, "nope", delivery).outcome is WebhookOutcome.UNKNOWN
    )
    world.run_jobs()  # the queued sync finds the connection disconnected and does nothing
    assert world.platform.reads == []


def test_rotate_keys_re_encrypts_every_stored_credential(world: World) -> None:
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    world.cipher.key = "k2"
    assert world.connections.rotate_keys() == 1
    assert (world.store.connections[connection_id].sealed_credentials or b"").startswith(b"k2:")


def test_one_platform_site_is_read_by_one_connection(world: World) -> None:
    first = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    with pytest.raises(ConnectionFailed, match="School One is already connected"):
        world.connections.connect(1, "scripted", {"key": "good"})
    assert len(world.platform.hooks) == 1
    statuses = {c.id: c.status for c in world.store.connections.values()}
    assert statuses[first] is ConnectionStatus.SYNCING
    assert sorted(statuses.values()) == [ConnectionStatus.DISCONNECTED, ConnectionStatus.SYNCING]
    world.connections.disconnect(1, first)
    assert world.connections.connect(1, "scripted", {"key": "good"}).connection.status is ConnectionStatus.SYNCING


def test_a_sync_that_died_with_its_worker_is_started_again_by_the_poll(world: World) -> None:
    world.platform.records = [world.purchase("p1")]
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    world.jobs.jobs.clear()  # the worker died: the queued sync is lost
    world.clock.advance(minutes=10)
    world.connections.poll_live()
    assert world.jobs.jobs == []  # a sync may take a while; ten minutes is not stalled
    world.clock.advance(minutes=30)
    world.connections.poll_live()
    assert world.jobs.jobs == [(SYNC_TASK, (connection_id,))]
    world.run_jobs()
    assert world.connections.status(1, connection_id).status is ConnectionStatus.CONNECTED


class ManualHookPlatform(ScriptedPlatform):
    """A signing platform the creator sets up by hand: a webhook URL to paste, and a secret that exists only
    once they did, filled in afterwards."""

    name = "scripted"
    credential_fields = (
        CredentialField("key", "API key", secret=True),
        CredentialField("signing_secret", "Signing secret", secret=True, required=False),
    )
    webhook_auth = WebhookAuth.SIGNATURE

    def check_credentials(self, credentials: Credentials) -> ConnectionCheck:
        if credentials.get("signing_secret") and not credentials["signing_secret"].startswith("sec_"):
            return ConnectionCheck(False, "The signing secret starts with sec_.")
        return super().check_credentials(credentials)

    def register_webhooks(self, credentials: Credentials, target_url: str) -> tuple[str, ...]:
        return ()

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        if delivery.headers.get("Signature") != credentials.get("signing_secret"):
            raise WebhookRejected("The signature does not match.")
        if delivery.body == b"boom":
            raise RuntimeError("a bug in the plugin")
        if delivery.body == b"later":
            raise PlatformUnavailable("Scripted is down.")
        return super().read_webhook(delivery, credentials)


@pytest.fixture
def manual() -> World:
    return World(ManualHookPlatform())


def test_an_optional_field_is_filled_in_after_connecting_beside_the_url_to_paste(manual: World) -> None:
    connection_id = manual.connections.connect(1, "scripted", {"key": "good", "signing_secret": ""}).connection.id
    manual.run_jobs()
    setup = manual.connections.webhook_setup(1, connection_id)
    assert setup is not None
    assert setup.url == f"https://app.example/webhooks/scripted/{connection_id}"
    assert [f.name for f in setup.missing] == ["signing_secret"]
    with pytest.raises(ConnectionFailed, match="starts with sec_"):
        manual.connections.complete_credentials(1, connection_id, {"signing_secret": "typo"})
    with pytest.raises(ConnectionFailed, match="Paste the value"):
        manual.connections.complete_credentials(1, connection_id, {"key": "not-optional", "signing_secret": " "})
    manual.connections.complete_credentials(1, connection_id, {"signing_secret": "sec_1"})
    setup = manual.connections.webhook_setup(1, connection_id)
    assert setup is not None
    assert setup.missing == ()
    with pytest.raises(UnknownConnection):
        manual.connections.complete_credentials(2, connection_id, {"signing_secret": "sec_2"})
    # A reconnect that leaves the optional field empty keeps the stored one.
    manual.connections.reconnect(1, connection_id, {"key": "good", "signing_secret": ""})
    assert manual.connections.webhook_setup(1, connection_id).missing == ()  # type: ignore[union-attr]


def test_a_platform_that_registers_its_hooks_has_nothing_to_paste(world: World) -> None:
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    assert world.connections.webhook_setup(1, connection_id) is None


def test_a_bad_signature_or_body_is_refused_with_its_reason_and_a_failing_plugin_asks_for_a_retry(
    manual: World,
) -> None:
    manual.platform.records = [manual.purchase("p1")]
    credentials = {"key": "good", "signing_secret": "sec_1"}
    connection_id = manual.connections.connect(1, "scripted", credentials).connection.id
    manual.run_jobs()
    receive = manual.connections.receive_webhook
    good = {"Signature": "sec_1"}
    forged = receive("scripted", connection_id, None, WebhookDelivery({"Signature": "sec_x"}, b'{"id": "e"}'))
    assert (forged.outcome, forged.reason) == (WebhookOutcome.REJECTED, "The signature does not match.")
    unreadable = receive("scripted", connection_id, None, WebhookDelivery(good, b"{}"))
    assert (unreadable.outcome, unreadable.reason) == (WebhookOutcome.REJECTED, "no id")
    assert (
        receive("scripted", connection_id, None, WebhookDelivery(good, b"boom")).outcome is WebhookOutcome.RETRY_LATER
    )
    assert receive("scripted", connection_id, "a-token", WebhookDelivery(good, b"{}")).outcome is WebhookOutcome.UNKNOWN
    assert manual.store.deliveries == {}
    body = json.dumps({"id": "evt-1", "ids": ["p1"]}).encode()
    assert receive("scripted", connection_id, None, WebhookDelivery(good, body)).outcome is WebhookOutcome.ACCEPTED
    (stored,) = manual.store.deliveries.values()
    assert stored.received_at == manual.clock.now()
    # A platform that cannot be reached while reading: the delivery is kept (once, by its body's digest) for
    # the job's retries to read, rather than lost to a platform that might not send it again.
    later = WebhookDelivery(good, b"later")
    assert receive("scripted", connection_id, None, later).outcome is WebhookOutcome.ACCEPTED
    assert receive("scripted", connection_id, None, later).outcome is WebhookOutcome.DUPLICATE
    assert sorted(d.event_id[:7] for d in manual.store.deliveries.values()) == ["evt-1", "sha256:"]


def test_a_failing_poll_shows_on_the_connection_emails_once_after_the_threshold_and_clears_on_recovery(
    world: World,
) -> None:
    world.platform.records = [world.purchase("p1")]
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    world.run_jobs()
    failed_at = world.clock.now()
    world.platform.unavailable = True

    world.connections.poll(connection_id)
    view = world.connections.status(1, connection_id)
    assert (view.status, view.is_failing, view.failing_since) == (ConnectionStatus.CONNECTED, True, failed_at)
    assert view.problem == "Scripted is down. Failing since 2026-11-01 12:00 UTC."
    assert world.mailer.sent == []  # one failed poll is no reason to write yet

    world.clock.advance(seconds=SYNC_FAILURE_EMAIL_AFTER.total_seconds() - 60)
    world.connections.poll(connection_id)
    assert world.mailer.sent == []
    world.clock.advance(minutes=1)
    world.connections.poll(connection_id)
    (mail,) = world.mailer.to("creator@example.com")
    assert mail.subject == "CourseSignal cannot read your Scripted sales"
    assert "Since 2026-11-01 12:00 UTC" in mail.text
    assert "Scripted is down." in mail.text
    assert f"https://app.example/connections/{connection_id}" in mail.text
    world.clock.advance(hours=5)
    world.connections.poll(connection_id)
    assert len(world.mailer.sent) == 1  # one email per run of failures
    assert world.connections.status(1, connection_id).failing_since == failed_at

    world.platform.unavailable = False
    world.connections.poll(connection_id)
    view = world.connections.status(1, connection_id)
    assert (view.is_failing, view.sync_error, view.problem) == (False, None, None)

    # A new run of failures is a new story: shown at once, told again after the threshold.
    world.platform.unavailable = True
    world.connections.poll(connection_id)
    world.clock.advance(seconds=SYNC_FAILURE_EMAIL_AFTER.total_seconds())
    world.connections.poll(connection_id)
    assert len(world.mailer.sent) == 2


def test_a_plugin_failure_in_a_poll_is_a_sync_failure_too(world: World) -> None:
    world.platform.records = [world.purchase("p1")]
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    world.run_jobs()
    world.platform.records = [RefundRecord("scripted", "p1", "r1", Money(9_900, "USD"), world.clock.now())]
    world.connections.poll(connection_id)  # a refund above its sale: the platform's plugin got it wrong
    view = world.connections.status(1, connection_id)
    assert view.is_failing
    assert view.sync_error is not None
    assert "is more than its purchase" in view.sync_error
    assert world.store.refunds == {}
