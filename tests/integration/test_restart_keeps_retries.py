"""The embedded default forgets nothing on restart: a webhook delivery waiting for its retry when the app
stops is found again from the database when it starts, and processed once its retry is due."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from adapters.persistence import tables as t
from tests.fakes.kajabi import FakeKajabi

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def kajabi() -> Iterator[FakeKajabi]:
    with FakeKajabi() as fake:
        fake.add_site("Academy")
        yield fake


def _delivery(container):  # type: ignore[no-untyped-def]
    with container.gateways.engine().connect() as db:
        return db.execute(select(t.webhook_deliveries)).one()


def test_a_delivery_waiting_for_its_retry_is_processed_after_a_restart(settings, kajabi: FakeKajabi) -> None:  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app, create_container

    served = replace(settings, platform_api_urls={"kajabi": kajabi.base_url})
    first = create_container(served)
    client = build_app(served, first).test_client()
    account_id = first.services.accounts().ensure_account("creator@example.com").id
    first.services.connections().connect(account_id, "kajabi", kajabi.credentials())
    first.gateways.job_queue().wait_until_idle()
    (hook,) = kajabi.hooks
    purchase = kajabi.add_purchase(kajabi.add_customer("buyer@example.com", "Buyer"), kajabi.add_offer("Course", 9900))
    kajabi.fail_next(50, status=503)  # Kajabi is down: the first attempt fails, a retry waits 10 s in memory
    path = "/" + hook.target_url.split("://", 1)[1].split("/", 1)[1]
    assert client.post(path, json=kajabi.webhook_body("purchase", purchase)).status_code == 202
    deadline = time.monotonic() + 30
    while _delivery(first).attempts < 1 or _delivery(first).last_error is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    # The app stops (its retry, held in memory, with it); a minute passes; Kajabi is back; the app starts.
    first.gateways.job_queue().stop()
    first.unwire()
    first.gateways.engine().dispose()
    kajabi.clear_faults()
    second = create_container(served)
    stopped_at, attempts_before = _delivery(second).last_attempt_at, _delivery(second).attempts
    with second.gateways.engine().begin() as db:
        db.execute(update(t.webhook_deliveries).values(last_attempt_at=stopped_at - timedelta(minutes=1)))
    try:
        build_app(served, second)
        deadline = time.monotonic() + 15
        while _delivery(second).processed_at is None:
            assert time.monotonic() < deadline, _delivery(second)
            time.sleep(0.1)
        assert _delivery(second).attempts == attempts_before + 1
        with second.gateways.engine().connect() as db:
            assert db.execute(select(t.purchases.c.platform_purchase_id)).scalars().all() == [str(purchase.id)]
    finally:
        second.gateways.job_queue().stop()
        second.unwire()
        second.gateways.engine().dispose()


def test_replay_runs_at_once_while_a_retry_of_the_delivery_waits(settings, kajabi: FakeKajabi) -> None:  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app, create_container

    served = replace(settings, platform_api_urls={"kajabi": kajabi.base_url})
    container = create_container(served)
    try:
        client = build_app(served, container).test_client()
        account_id = container.services.accounts().ensure_account("creator@example.com").id
        connection_id = (
            container.services.connections().connect(account_id, "kajabi", kajabi.credentials()).connection.id
        )
        container.gateways.job_queue().wait_until_idle()
        (hook,) = kajabi.hooks
        customer = kajabi.add_customer("buyer@example.com", "Buyer")
        purchase = kajabi.add_purchase(customer, kajabi.add_offer("Course", 9900))
        kajabi.fail_next(50, status=503)
        path = "/" + hook.target_url.split("://", 1)[1].split("/", 1)[1]
        assert client.post(path, json=kajabi.webhook_body("purchase", purchase)).status_code == 202
        deadline = time.monotonic() + 30
        while _delivery(container).last_error is None:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        kajabi.clear_faults()
        delivery = _delivery(container)
        container.services.connections().replay_delivery(account_id, connection_id, delivery.id)
        replayed = time.monotonic()
        while _delivery(container).processed_at is None:
            # The waiting retry is due 10 s after the failed attempt: Replay does not wait for it.
            assert time.monotonic() - replayed < 8, _delivery(container)
            time.sleep(0.1)
    finally:
        container.gateways.job_queue().stop()
        container.unwire()
        container.gateways.engine().dispose()
