"""Teachable, installed by its entry point, feeding the real purchases service and reports (SQLite and
PostgreSQL): a sync, a partial refund, then a webhook for a sale already synced."""

from __future__ import annotations

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
    credentials = {"api_key": teachable.api_key, "api_url": teachable.api_url}

    purchases = container.services.purchases()
    summary = purchases.import_from_platform(
        site.account_id, "teachable", credentials, datetime.now(UTC) - timedelta(days=30), lambda done, total: None
    )
    assert (summary.purchases_added, summary.refunds_added) == (2, 1)

    platform = container.platforms.registry().get("teachable")
    body = json.dumps(teachable.event_body("Transaction.created", bought)).encode()
    batch = platform.read_webhook(WebhookDelivery({}, body), credentials)
    again = purchases.ingest(site.account_id, batch.records)
    assert (again.purchases_added, again.purchases_already_known, again.refunds_added) == (0, 1, 0)

    container.gateways.clock.override(_Later())
    response = client.get(
        "/api/v1/reports/sources?range=all&model=first_touch", headers={"Authorization": f"Bearer {token}"}
    )
    container.gateways.clock.reset_override()
    (row,) = response.json["rows"]
    assert (row["source"], row["revenue"], row["purchases"]) == ("Email", 10_000, 1)  # 129.00 less the 29.00 refunded
    assert response.json["unmatched"] == {"revenue": 12_900, "purchases": 1}
