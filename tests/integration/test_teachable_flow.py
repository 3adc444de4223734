"""Teachable, installed by its entry point, feeding the real purchases service and reports (SQLite and
PostgreSQL): a sync, a partial refund, then a webhook for a sale already synced."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from core.ports.platforms import WebhookDelivery
from tests.fakes.teachable import FakeTeachable
from tests.integration.test_flow import _Later, send


@pytest.fixture
def teachable() -> Iterator[FakeTeachable]:
    with FakeTeachable() as fake:
        yield fake


@pytest.fixture
def settings(settings, teachable: FakeTeachable):  # type: ignore[no-untyped-def]
    """The operator points Teachable at the fake, as COURSESIGNAL_TEACHABLE_API_URL would."""
    return dataclasses.replace(settings, platform_api_urls={"teachable": teachable.api_url})


def test_a_teachable_sync_and_webhook_reach_the_report(client, container, teachable: FakeTeachable) -> None:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    site = accounts.add_site("creator@example.com", ["school.example.com"])
    token = accounts.issue_api_token("creator@example.com")
    page = "https://school.example.com/p/sourdough?utm_source=newsletter&utm_medium=email"
    assert send(client, s=site.public_key, n="pageview", i="event0001", v="visitor01", u=page).status_code == 204
    identify = send(client, s=site.public_key, n="identify", i="event0002", v="visitor01", u=page, e="ava@example.com")
    assert identify.status_code == 204
    container.gateways.job_queue().wait_until_idle()

    plan = teachable.add_pricing_plan(teachable.add_course("Sourdough Masterclass"), 12_900)
    ava, stranger = teachable.add_user("Ava@Example.com", "Ava"), teachable.add_user("sam@example.com", "Sam")
    bought = teachable.add_purchase(ava, plan, at=datetime.now(UTC) + timedelta(seconds=1))
    teachable.add_purchase(stranger, plan, at=teachable.days_ago(3))
    teachable.add_purchase(stranger, plan, at=teachable.days_ago(45))  # outside the 30 days
    teachable.refund(bought, 2_900)
    credentials = {"api_key": teachable.api_key}

    purchases = container.services.purchases()
    summary = purchases.import_from_platform(
        site.account_id, "teachable", credentials, datetime.now(UTC) - timedelta(days=30), lambda done, total: None
    )
    assert (summary.purchases_added, summary.refunds_added) == (2, 1)

    platform = container.platforms.registry().get("teachable")
    body = json.dumps(teachable.event_body("Transaction.created", bought)).encode()
    batch = platform.read_webhook(WebhookDelivery({}, body), credentials)
    again = purchases.ingest(site.account_id, platform.confirm_batch(credentials, batch))
    assert (again.purchases_added, again.purchases_already_known, again.refunds_added) == (0, 1, 0)

    container.gateways.clock.override(_Later())
    response = client.get(
        "/api/v1/reports/sources?range=all&model=first_touch", headers={"Authorization": f"Bearer {token}"}
    )
    container.gateways.clock.reset_override()
    (row,) = response.json["rows"]
    assert (row["source"], row["revenue"], row["purchases"]) == ("Email", 10_000, 1)  # 129.00 less the 29.00 refunded
    assert response.json["unmatched"] == {"revenue": 12_900, "purchases": 1}


def test_a_second_partial_refund_of_a_teachable_sale_is_not_missed(container, teachable: FakeTeachable) -> None:  # type: ignore[no-untyped-def]
    """Teachable keeps one running amount_refunded per transaction: each sync or webhook that sees it grow
    raises the stored refund to the new total, and one seen again changes nothing."""
    accounts = container.services.accounts()
    account_id = accounts.ensure_account("creator@example.com").id
    plan = teachable.add_pricing_plan(teachable.add_course("Sourdough Masterclass"), 12_900)
    bought = teachable.add_purchase(teachable.add_user("ava@example.com"), plan, at=teachable.days_ago(2))
    purchases = container.services.purchases()
    since = datetime.now(UTC) - timedelta(days=30)

    def sync() -> tuple[int, int]:
        summary = purchases.import_from_platform(account_id, "teachable", {"api_key": teachable.api_key}, since, _quiet)
        return summary.purchases_added, summary.refunds_added

    teachable.refund(bought, 2_900)
    assert sync() == (1, 1)
    assert sync() == (0, 0)
    teachable.refund(bought, 1_000)
    platform = container.platforms.registry().get("teachable")
    body = json.dumps(teachable.event_body("Transaction.refunded", bought)).encode()
    batch = platform.read_webhook(WebhookDelivery({}, body), {"api_key": teachable.api_key})
    assert (
        purchases.ingest(account_id, platform.confirm_batch({"api_key": teachable.api_key}, batch)).refunds_added == 1
    )
    assert sync() == (0, 0)

    from sqlalchemy import select

    from adapters.persistence import tables as t

    with container.gateways.engine().connect() as connection:
        amounts = connection.execute(select(t.refunds.c.amount)).scalars().all()
    assert amounts == [3_900]  # one refund record, at the running total: 29.00 + 10.00


def _quiet(done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
    return None


def test_a_teachable_connection_receives_a_webhook_at_the_url_it_shows(
    client, container, teachable: FakeTeachable
) -> None:  # type: ignore[no-untyped-def]
    """Connected from the service as the page does; the URL shown is pasted into Teachable; a delivery is
    answered at once (no call to Teachable), and the job reads its transaction through the API."""
    from tests.conftest import sign_in

    account_id = sign_in(client, container)
    plan = teachable.add_pricing_plan(teachable.add_course("Sourdough Masterclass"), 12_900)
    teachable.add_purchase(teachable.add_user("early@example.com"), plan, at=teachable.days_ago(3))
    connections = container.services.connections()
    connection_id = connections.connect(account_id, "teachable", {"api_key": teachable.api_key}).connection.id
    container.gateways.job_queue().wait_until_idle()
    setup = connections.webhook_setup(account_id, connection_id)
    assert setup is not None
    assert setup.url.startswith(f"http://coursesignal.test/webhooks/teachable/{connection_id}/")
    assert setup.url in client.get(f"/connections/{connection_id}").get_data(as_text=True)

    txn = teachable.add_purchase(teachable.add_user("ava@example.com"), plan)
    body = json.dumps(teachable.event_body("Transaction.created", txn)).encode()
    path = setup.url.removeprefix("http://coursesignal.test")
    before = len(teachable.requests)
    assert client.post(path, data=body).status_code == 202
    assert len(teachable.requests) == before  # answered without asking Teachable
    assert client.post(path, data=body).status_code == 200  # the same event again: ignored
    assert client.post(path, data=b"{").status_code == 400
    container.gateways.job_queue().wait_until_idle()
    rows = client.get("/api/v1/purchases").json
    rows = rows["purchases"] if isinstance(rows, dict) else rows
    assert sorted(row["email"] for row in rows) == ["ava@example.com", "early@example.com"]
