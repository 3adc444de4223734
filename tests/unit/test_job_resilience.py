"""Webhook deliveries and syncs survive failures: attempts, dead letters and replay; checkpoints and resume."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from core.domain.connections import STALLED_SYNC, ConnectionStatus, DeliveryState
from core.domain.money import Money
from core.domain.purchases import RefundRecord
from core.ports.jobs import ATTEMPTS, RETRY_DELAYS
from core.ports.platforms import Credentials, PlatformRecord, PlatformUnavailable, SyncProgress, WebhookDelivery
from core.services.connections import (
    DELIVERY_TASK,
    LOST_AFTER,
    REPLAY_TASK,
    SYNC_TASK,
    DeliveryNotReady,
    UnknownConnection,
    UnknownDelivery,
    WebhookOutcome,
)
from tests.unit.fakes import FakeWebhookDeliveries
from tests.unit.test_connections import ScriptedPlatform, World


class WorkerDied(BaseException):
    """Stands in for SIGKILL: not an Exception, so nothing on the way catches it."""


class PagedPlatform(ScriptedPlatform):
    """Serves `records` in pages of `page_size`, checkpointing a page-number cursor after each; can die
    after a given number of pages, like a worker killed mid-sync."""

    def __init__(self) -> None:
        super().__init__()
        self.page_size = 2
        self.die_after_pages: int | None = None
        self.pages_served: list[int] = []
        self.between_pages: Callable[[], None] = lambda: None

    def fetch_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        return self._from(0, progress)

    def resume_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress, cursor: str
    ) -> Iterator[PlatformRecord]:
        return self._from(int(cursor), progress)

    def _from(self, page: int, progress: SyncProgress) -> Iterator[PlatformRecord]:
        if self.unavailable:
            raise PlatformUnavailable("Scripted is not answering right now. Try again in a few minutes.")
        while page * self.page_size < len(self.records):
            if self.die_after_pages is not None and len(self.pages_served) >= self.die_after_pages:
                raise WorkerDied
            self.pages_served.append(page)
            if len(self.pages_served) > 1:
                self.between_pages()
            yield from self.records[page * self.page_size : (page + 1) * self.page_size]
            page += 1
            done = min(page * self.page_size, len(self.records))
            progress(done, len(self.records), pages=page, cursor=str(page))


@pytest.fixture
def world() -> World:
    world = World()
    world.platform = PagedPlatform()
    world.connections._platforms.platform = world.platform  # type: ignore[attr-defined]
    world.connections._purchases._platforms.platform = world.platform  # type: ignore[attr-defined]
    return world


def _connected(world: World, *ids: str) -> int:
    world.platform.records = [world.purchase(pid) for pid in ids]
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    world.run_jobs()
    return connection_id


def _deliver(world: World, connection_id: int, event_id: str, *ids: str) -> int:
    body = json.dumps({"id": event_id, "ids": list(ids)}).encode()
    receipt = world.connections.receive_webhook("scripted", connection_id, world.token(), WebhookDelivery({}, body))
    assert receipt.outcome is WebhookOutcome.ACCEPTED
    ((task, (delivery_id,)),) = [job for job in world.jobs.jobs if job[0] == DELIVERY_TASK]
    world.jobs.jobs.clear()
    assert task == DELIVERY_TASK
    return int(delivery_id)


def _purchase_ids(world: World) -> list[str]:
    return sorted(p.platform_purchase_id for p in world.store.purchases.values())


# ---- webhook deliveries ----------------------------------------------------------------------------


def test_a_delivery_processed_twice_counts_once(world: World) -> None:
    connection_id = _connected(world)
    world.platform.records.append(world.purchase("p1"))
    delivery_id = _deliver(world, connection_id, "evt-1", "p1")
    assert world.connections.process_delivery(delivery_id) == "1 added, 0 not confirmed"
    assert world.connections.process_delivery(delivery_id) == "already processed"
    assert _purchase_ids(world) == ["p1"]
    assert world.store.deliveries[delivery_id].attempts == 1


def test_a_crash_after_the_effect_before_the_mark_stores_nothing_and_the_retry_counts_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection_id = _connected(world)
    world.platform.records.append(world.purchase("p1"))
    delivery_id = _deliver(world, connection_id, "evt-1", "p1")

    def crash(*args: object) -> bool:
        raise RuntimeError("the database went away at postgresql://app:hunter2@db/prod")

    with monkeypatch.context() as patched:
        patched.setattr(FakeWebhookDeliveries, "mark_processed", crash)
        with pytest.raises(RuntimeError):
            world.connections.process_delivery(delivery_id)
    assert _purchase_ids(world) == []  # the purchase was in the same transaction as the mark
    stored = world.store.deliveries[delivery_id]
    assert (stored.state, stored.attempts) == (DeliveryState.RETRYING, 1)
    assert "hunter2" not in (stored.last_error or "")
    assert "RuntimeError" in (stored.last_error or "")

    assert world.connections.process_delivery(delivery_id) == "1 added, 0 not confirmed"
    assert world.connections.process_delivery(delivery_id) == "already processed"
    assert _purchase_ids(world) == ["p1"]


def test_every_attempt_failing_ends_in_a_dead_letter_the_creator_can_replay(world: World) -> None:
    connection_id = _connected(world)
    world.platform.records.append(world.purchase("p1"))
    delivery_id = _deliver(world, connection_id, "evt-1", "p1")
    world.platform.refuse = None
    original = world.platform.confirm_records

    def unavailable(credentials, records):  # type: ignore[no-untyped-def]
        raise PlatformUnavailable("Scripted is not answering right now (HTTP 503). Try again in a few minutes.")

    world.platform.confirm_records = unavailable  # type: ignore[method-assign]
    for _attempt in range(1, ATTEMPTS):
        with pytest.raises(PlatformUnavailable):
            world.connections.process_delivery(delivery_id)
        assert world.store.deliveries[delivery_id].state is DeliveryState.RETRYING
        world.clock.advance(minutes=1)
    outcome = world.connections.process_delivery(delivery_id)  # the last attempt records, and stops raising
    assert outcome.startswith(f"failed after {ATTEMPTS} attempts")
    dead = world.store.deliveries[delivery_id]
    assert dead.state is DeliveryState.FAILED
    assert dead.last_error == "Scripted is not answering right now (HTTP 503). Try again in a few minutes."
    assert dead.failed_at == world.clock.now()
    assert world.connections.process_delivery(delivery_id) == "failed: replay it to try again"  # a stray retry

    (listed,) = world.connections.unfinished_deliveries(1, connection_id)
    assert (listed.id, listed.state, listed.attempts) == (delivery_id, DeliveryState.FAILED, ATTEMPTS)
    with pytest.raises(UnknownConnection):
        world.connections.unfinished_deliveries(2, connection_id)
    with pytest.raises(UnknownConnection):
        world.connections.replay_delivery(2, connection_id, delivery_id)
    with pytest.raises(UnknownDelivery):
        world.connections.replay_delivery(1, connection_id, 999)

    world.platform.confirm_records = original  # type: ignore[method-assign]
    assert world.connections.replay_delivery(1, connection_id, delivery_id) is DeliveryState.WAITING
    assert world.jobs.jobs == [(REPLAY_TASK, (delivery_id,))]
    assert world.store.deliveries[delivery_id].attempts == 0
    world.run_jobs()
    assert world.store.deliveries[delivery_id].state is DeliveryState.PROCESSED
    assert world.connections.unfinished_deliveries(1, connection_id) == ()
    # Replaying a processed delivery changes nothing and queues nothing.
    assert world.connections.replay_delivery(1, connection_id, delivery_id) is DeliveryState.PROCESSED
    assert world.jobs.jobs == []
    assert _purchase_ids(world) == ["p1"]


def test_a_refund_before_its_purchase_waits_for_it(world: World) -> None:
    connection_id = _connected(world)
    refund = RefundRecord("scripted", "p1", "r1", Money(4900, "USD"), world.clock.now())
    world.platform.records.append(refund)  # the platform knows the refund; the purchase's hook is late
    refund_delivery = _deliver(world, connection_id, "refund-1", "p1")
    with pytest.raises(DeliveryNotReady, match="A refund arrived before its purchase"):
        world.connections.process_delivery(refund_delivery)
    assert world.store.refunds == {}
    assert world.store.deliveries[refund_delivery].state is DeliveryState.RETRYING

    world.platform.records = [world.purchase("p1")]
    world.connections.process_delivery(_deliver(world, connection_id, "purchase-1", "p1"))
    world.platform.records = [refund]
    assert (
        world.connections.process_delivery(refund_delivery) == "0 added, 1 refund counted, 0 not confirmed"
    )  # the retry
    assert len(world.store.refunds) == 1
    assert _purchase_ids(world) == ["p1"]


def test_the_sweep_queues_again_a_delivery_whose_job_was_lost_within_a_minute(world: World) -> None:
    connection_id = _connected(world)
    world.platform.records.append(world.purchase("p1"))
    delivery_id = _deliver(world, connection_id, "evt-1", "p1")
    world.jobs.jobs.clear()  # its job is lost (Redis came back empty, the process restarted)
    assert world.connections.sweep_deliveries() == 0  # not overdue yet: its job may just be slow
    world.clock.advance(seconds=LOST_AFTER.total_seconds() + 1)
    assert world.connections.sweep_deliveries() == 1
    assert (DELIVERY_TASK, (delivery_id,)) in world.jobs.jobs
    world.run_jobs()
    assert _purchase_ids(world) == ["p1"]
    assert world.connections.sweep_deliveries() == 0  # processed: nothing to sweep


def test_the_sweep_leaves_a_delivery_alone_until_its_retry_is_overdue(world: World) -> None:
    connection_id = _connected(world)
    delivery_id = _deliver(world, connection_id, "evt-1", "p1")

    def unavailable(credentials, records):  # type: ignore[no-untyped-def]
        raise PlatformUnavailable("Scripted is not answering right now.")

    world.platform.confirm_records = unavailable  # type: ignore[method-assign]
    with pytest.raises(PlatformUnavailable):
        world.connections.process_delivery(delivery_id)  # attempt 1 failed: the retry is due in 10 s
    world.jobs.jobs.clear()
    world.clock.advance(seconds=RETRY_DELAYS[0] + LOST_AFTER.total_seconds() - 1)
    assert world.connections.sweep_deliveries() == 0
    world.clock.advance(seconds=2)
    assert world.connections.sweep_deliveries() == 1


# ---- syncs -----------------------------------------------------------------------------------------


def test_a_sync_killed_mid_way_resumes_from_its_checkpoint_without_duplicates(world: World) -> None:
    world.platform.records = [world.purchase(f"p{n}") for n in range(9)]
    world.platform.die_after_pages = 2
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    with pytest.raises(WorkerDied):
        world.run_jobs()
    world.jobs.jobs.clear()  # the job died with its worker
    assert len(world.store.purchases) == 4  # two pages, each stored with its checkpoint
    stored = world.store.connections[connection_id]
    assert (stored.status, stored.sync.cursor, stored.sync.purchases_found) == (ConnectionStatus.SYNCING, "2", 4)

    # A second run while the first one's heartbeat is fresh leaves it alone (it may still be alive).
    assert world.connections.run_sync(connection_id) == "already running"
    world.clock.advance(minutes=5)
    world.connections.poll_live()
    assert world.jobs.jobs == []
    world.clock.advance(seconds=STALLED_SYNC.total_seconds())
    world.connections.poll_live()
    assert world.jobs.jobs == [(SYNC_TASK, (connection_id,))]
    world.platform.die_after_pages = None
    world.run_jobs()

    view = world.connections.status(1, connection_id)
    assert view.status is ConnectionStatus.CONNECTED
    assert (view.purchases_found, view.total, view.pages_done) == (9, 9, 5)
    assert world.platform.pages_served == [0, 1, 2, 3, 4]  # resumed at page 2, not from the start
    assert _purchase_ids(world) == sorted(f"p{n}" for n in range(9))
    assert world.store.connections[connection_id].sync.cursor is None
    assert world.connections.run_sync(connection_id) == "not syncing"  # a duplicate job changes nothing


def test_an_unreachable_platform_during_a_sync_is_retried_with_a_reason_shown(world: World) -> None:
    world.platform.records = [world.purchase("p1")]
    world.platform.unavailable = True
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    world.jobs.jobs.clear()
    with pytest.raises(PlatformUnavailable):
        world.connections.run_sync(connection_id)
    view = world.connections.status(1, connection_id)
    assert view.status is ConnectionStatus.SYNCING
    assert view.reason is not None
    assert "keeps trying" in view.reason
    world.platform.unavailable = False
    world.clock.advance(seconds=STALLED_SYNC.total_seconds() + 1)  # the queue's retry, much later
    world.connections.run_sync(connection_id)
    view = world.connections.status(1, connection_id)
    assert (view.status, view.reason, view.purchases_found) == (ConnectionStatus.CONNECTED, None, 1)


def test_a_sync_disconnected_mid_way_stops_at_its_next_page(world: World) -> None:
    world.platform.records = [world.purchase(f"p{n}") for n in range(6)]
    connection_id = world.connections.connect(1, "scripted", {"key": "good"}).connection.id
    world.jobs.jobs.clear()
    world.platform.between_pages = lambda: world.connections.disconnect(1, connection_id)
    assert world.connections.run_sync(connection_id) == "superseded"
    assert world.platform.pages_served == [0, 1]  # the second page's checkpoint was refused: it stopped
    assert _purchase_ids(world) == ["p0", "p1"]  # the page stored before the disconnect stays
    assert world.connections.status(1, connection_id).status is ConnectionStatus.DISCONNECTED


def test_a_delivery_that_needs_the_unreachable_api_to_be_read_is_kept_and_processed_later(world: World) -> None:
    connection_id = _connected(world)
    world.platform.records.append(world.purchase("p1"))
    original = world.platform.read_webhook

    def api_down(delivery, credentials):  # type: ignore[no-untyped-def]
        raise PlatformUnavailable("Scripted is not answering right now. Try again in a few minutes.")

    world.platform.read_webhook = api_down  # type: ignore[method-assign]
    body = json.dumps({"id": "evt-1", "ids": ["p1"]}).encode()

    def receive(*arguments: Any) -> WebhookOutcome:
        return world.connections.receive_webhook(*arguments).outcome

    assert receive("scripted", connection_id, world.token(), WebhookDelivery({}, body)) is WebhookOutcome.ACCEPTED
    assert receive("scripted", connection_id, world.token(), WebhookDelivery({}, body)) is WebhookOutcome.DUPLICATE
    (stored,) = world.store.deliveries.values()
    assert stored.event_id.startswith("sha256:")
    with pytest.raises(PlatformUnavailable):
        world.run_jobs()  # the first attempt: still down
    world.platform.read_webhook = original  # type: ignore[method-assign]
    assert stored.id is not None
    assert world.connections.process_delivery(stored.id) == "1 added, 0 not confirmed"  # the retry
    assert _purchase_ids(world) == ["p1"]
