"""Webhook deliveries against the fake Kajabi and Teachable, on SQLite and PostgreSQL: duplicates and
out-of-order deliveries count once; a platform that keeps failing ends in a dead letter the creator sees
and replays; the in-process queue retries with backoff."""

from __future__ import annotations

import dataclasses
import html
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from adapters.jobs.in_process import InProcessJobQueue
from adapters.persistence import tables as t
from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry
from adapters.platforms.webhook_auth import UrlTokenAuth
from core.domain.connections import DeliveryState
from core.ports.jobs import ATTEMPTS
from coursesignal.container import Container, build_app, create_container
from tests.conftest import sign_in
from tests.fakes.kajabi import FakeKajabi
from tests.fakes.teachable import FakeTeachable
from tests.live_app import PAGE_SIZE, FakeKajabiPlugin
from tests.web_session import post_form

QUICK_RETRIES = (0.01, 0.02, 0.03, 0.04)


@dataclass
class World:
    app: Flask
    container: Container
    kajabi: FakeKajabi
    teachable: FakeTeachable
    client: FlaskClient
    account_id: int

    def wait_for(self, condition: Callable[[], bool], seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.02)
        self.container.gateways.job_queue().wait_until_idle()

    def count(self, table: t.Table) -> int:
        with self.container.gateways.engine().connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

    def deliveries(self) -> list[Any]:
        with self.container.gateways.unit_of_work() as uow, self.container.gateways.engine().connect() as db:
            ids = db.execute(select(t.webhook_deliveries.c.id).order_by(t.webhook_deliveries.c.id))
            return [uow.webhook_deliveries.get(row.id) for row in ids]

    def text(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, path
        return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def world(settings) -> Iterator[World]:  # type: ignore[no-untyped-def]
    with FakeKajabi() as kajabi, FakeTeachable() as teachable:
        # The operator points Teachable at the fake, as COURSESIGNAL_TEACHABLE_API_URL would.
        settings = dataclasses.replace(settings, platform_api_urls={"teachable": teachable.api_url})
        container = create_container(settings)
        container.gateways.job_queue.override(providers.Singleton(InProcessJobQueue, retry_delays=QUICK_RETRIES))
        manager = build_plugin_manager()  # Teachable by its entry point, as installed
        manager.register(FakeKajabiPlugin(kajabi.base_url, PAGE_SIZE, lambda _: None), name="kajabi-on-the-fake")
        container.platforms.registry.override(providers.Object(PlatformRegistry(manager, settings.platform_api_urls)))
        app = build_app(settings, container)
        app.config["TESTING"] = True
        client = app.test_client()
        account_id = sign_in(client, container)
        try:
            yield World(app, container, kajabi, teachable, client, account_id)
        finally:
            container.gateways.job_queue().stop()
            container.unwire()
            container.gateways.engine().dispose()


def _connect_teachable(world: World) -> str:
    """Connect Teachable; returns the webhook path the creator would paste into Teachable."""
    credentials = {"api_key": world.teachable.api_key}
    connection = world.container.services.connections().connect(world.account_id, "teachable", credentials).connection
    world.container.gateways.job_queue().wait_until_idle()
    token, token_hash = UrlTokenAuth().issue()  # the URL the page shows the creator, re-issued for the test
    with world.container.gateways.engine().begin() as db:
        db.execute(
            t.platform_integrations.update()
            .where(t.platform_integrations.c.id == connection.id)
            .values(webhook_token_hash=token_hash)
        )
    return f"/webhooks/teachable/{connection.id}/{token}"


def _post(world: World, path: str, body: Any) -> int:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status = world.client.post(path, data=raw, content_type="application/json").status_code
    world.container.gateways.job_queue().wait_until_idle()
    return status


def test_teachable_refund_before_purchase_and_sale_before_payment_count_once(world: World) -> None:
    teachable = world.teachable
    hook = _connect_teachable(world)
    plan = teachable.add_pricing_plan(teachable.add_course("Sourdough Masterclass"), 12_900)
    ava = teachable.add_user("ava@example.com", "Ava")

    # The refund's hook arrives before the purchase's: the refund's transaction, read from the API,
    # brings the purchase with it; the late purchase hook then finds it known.
    bought = teachable.add_purchase(ava, plan)
    teachable.refund(bought, 2_900)
    refunded = json.dumps(teachable.event_body("Transaction.refunded", bought)).encode()
    assert _post(world, hook, refunded) == 202
    assert _post(world, hook, teachable.event_body("Transaction.created", bought)) == 202
    assert _post(world, hook, refunded) == 200  # Teachable retried the same delivery: ignored
    assert (world.count(t.purchases), world.count(t.refunds)) == (1, 1)

    # Checkout completed (Sale.created) before the payment shows in the API: nothing to count yet, and
    # no half-made purchase; the transaction's own hook counts it once, and a repeat changes nothing.
    sam = teachable.add_user("sam@example.com", "Sam")
    paid = teachable.add_purchase(sam, plan)
    with teachable.lock:
        hidden = teachable.transactions.pop(paid.id)
    sale = json.dumps(teachable.event_body("Sale.created", paid)).encode()
    assert _post(world, hook, sale) == 202
    assert world.count(t.purchases) == 1
    with teachable.lock:
        teachable.transactions[hidden.id] = hidden
    assert _post(world, hook, teachable.event_body("Transaction.created", paid)) == 202
    assert _post(world, hook, sale) == 200
    assert _post(world, hook, teachable.event_body("Sale.created", paid)) == 202  # a new event, same sale
    assert (world.count(t.purchases), world.count(t.refunds)) == (2, 1)
    assert {d.state for d in world.deliveries()} == {DeliveryState.PROCESSED}


def test_kajabi_failing_ends_in_a_dead_letter_the_creator_replays(world: World) -> None:
    kajabi = world.kajabi
    offer = kajabi.add_offer("Course Launch Blueprint", 49_700)
    connection = world.container.services.connections().connect(
        world.account_id, "kajabi", {"client_id": kajabi.client_id, "client_secret": kajabi.client_secret}
    )
    connection_id = connection.connection.id
    world.container.gateways.job_queue().wait_until_idle()
    (registered,) = kajabi.hooks
    hook = "/webhooks/" + registered.target_url.split("/webhooks/", 1)[1]
    purchase = kajabi.add_purchase(kajabi.add_customer("ava@example.com", "Ava"), offer)
    body = kajabi.webhook_body("purchase", purchase)

    kajabi.fail_next(1000, status=503)  # Kajabi's API is down for as long as every attempt takes
    assert world.client.post(hook, json=body).status_code == 202  # stored raw, acknowledged at once
    world.wait_for(lambda: world.deliveries()[0].state is DeliveryState.FAILED)
    assert world.client.post(hook, json=body).status_code == 200  # a repeat while failing: still one
    (dead,) = world.deliveries()
    assert dead.attempts == ATTEMPTS
    assert world.count(t.purchases) == 0

    page = world.text(f"/connections/{connection_id}")
    assert "1 webhook delivery could not be counted." in page
    listing = world.text(f"/connections/{connection_id}/deliveries")
    assert "Kajabi is not answering right now (HTTP 503). Try again in a few minutes." in listing
    assert "Traceback" not in listing
    assert "PlatformUnavailable" not in listing
    assert f"{ATTEMPTS}, last" in listing
    assert 'name="csrf_token"' in listing

    replay = f"/connections/{connection_id}/deliveries/{dead.id}/replay"
    assert world.client.post(replay).status_code == 400  # no CSRF token: refused
    kajabi.clear_faults()
    answer = post_form(world.client, replay, {}, form_page=f"/connections/{connection_id}/deliveries")
    assert answer.status_code == 302
    world.wait_for(lambda: world.deliveries()[0].state is DeliveryState.PROCESSED)
    assert world.count(t.purchases) == 1
    assert "No failed deliveries" in world.text(f"/connections/{connection_id}/deliveries")
    assert "could not be counted" not in world.text(f"/connections/{connection_id}")

    # Replaying a processed delivery (a second tab, a double click) changes nothing.
    again = post_form(world.client, replay, {}, form_page=f"/connections/{connection_id}", follow_redirects=True)
    assert "already counted" in html.unescape(again.get_data(as_text=True))
    world.container.gateways.job_queue().wait_until_idle()
    assert world.count(t.purchases) == 1


def test_the_in_process_queue_retries_a_failing_job_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    import adapters.jobs.in_process as in_process

    runs: list[float] = []

    def flaky(*args: object) -> None:
        runs.append(time.monotonic())
        if len(runs) < 3:
            raise RuntimeError("not yet")

    monkeypatch.setattr(in_process, "task_function", lambda name: flaky)
    queue = InProcessJobQueue(retry_delays=(0.2, 0.4, 10))
    try:
        queue.enqueue("process_webhook_delivery", 1)
        queue.wait_until_idle()
        assert len(runs) == 1
        assert queue.retries_waiting == 1
        deadline = time.monotonic() + 5
        while len(runs) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(runs) == 3
        assert runs[1] - runs[0] >= 0.2
        assert runs[2] - runs[1] >= 0.4
        assert queue.retries_waiting == 0
    finally:
        queue.stop()


def test_the_in_process_queue_gives_up_after_the_last_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    import adapters.jobs.in_process as in_process

    runs: list[float] = []

    def broken(*args: object) -> None:
        runs.append(time.monotonic())
        raise RuntimeError("always")

    monkeypatch.setattr(in_process, "task_function", lambda name: broken)
    queue = InProcessJobQueue(retry_delays=(0.01, 0.01))
    try:
        queue.enqueue("process_webhook_delivery", 1)
        deadline = time.monotonic() + 5
        while len(runs) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        queue.wait_until_idle()
        assert len(runs) == 3  # the first attempt and one per delay, then no more
        assert queue.retries_waiting == 0
    finally:
        queue.stop()


def test_a_kajabi_hook_before_the_api_shows_the_purchase_counts_once_the_poll_reads_it(world: World) -> None:
    kajabi = world.kajabi
    offer = kajabi.add_offer("Mini-Course", 2_700)
    connections = world.container.services.connections()
    connections.connect(
        world.account_id, "kajabi", {"client_id": kajabi.client_id, "client_secret": kajabi.client_secret}
    )
    world.container.gateways.job_queue().wait_until_idle()
    (registered,) = kajabi.hooks
    hook = "/webhooks/" + registered.target_url.split("/webhooks/", 1)[1]
    purchase = kajabi.add_purchase(kajabi.add_customer("noah@example.com", "Noah"), offer)
    body = kajabi.webhook_body("purchase", purchase)

    with kajabi.lock:  # the hook outruns Kajabi's API, which does not show the purchase yet
        hidden = kajabi.store.purchases.pop(purchase.id)
    assert _post(world, hook, body) == 202
    (delivery,) = world.deliveries()
    assert (delivery.state, delivery.outcome) == (DeliveryState.PROCESSED, "0 added, 1 not confirmed")
    assert world.count(t.purchases) == 0

    with kajabi.lock:
        kajabi.store.purchases[hidden.id] = hidden
    connections.poll_live()  # the periodic poll reads what the hook could not confirm
    world.container.gateways.job_queue().wait_until_idle()
    assert world.count(t.purchases) == 1
    assert _post(world, hook, body) == 200  # Kajabi delivers the same event again: ignored
    assert world.count(t.purchases) == 1
