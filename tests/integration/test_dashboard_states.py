"""The dashboard's empty and error states, each written for a person with what to do next."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

from sqlalchemy import insert, update

from adapters.persistence import tables as t
from core.domain.connections import Connection, ConnectionStatus
from core.domain.events import EventKind, TrackerEvent
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord
from tests.conftest import sign_in

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
EMAIL = "creator@example.com"


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _visit(container, site_key: str) -> None:  # type: ignore[no-untyped-def]
    outcome = container.services.tracking().record(
        TrackerEvent(
            site_key=site_key,
            client_event_id="state-event-1",
            kind=EventKind.PAGEVIEW,
            visitor_key="state-visitor",
            url="https://academy.example.com/?utm_source=youtube",
            received_at=datetime.now(UTC),
            user_agent=BROWSER,
        )
    )
    assert outcome.stored
    container.gateways.job_queue().wait_until_idle()


def test_a_new_account_is_told_to_connect_a_platform_and_add_the_snippet(client, container) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, container, EMAIL)
    response = client.get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = text(html)
    assert "No course platform connected yet" in page
    assert 'href="/connections/"' in html
    assert "upload a CSV export of your sales" in page
    assert "No visits tracked yet" in page
    assert 'href="/onboarding/snippet"' in html
    assert "Finish setting up" in page  # the two states are part of the setup card, with the steps left
    assert "Choose your platform" in page
    assert "Nothing in this range yet." in page
    assert "No purchases yet." in page


def test_a_site_without_visits_shows_its_snippet_and_a_live_check_until_the_first_visit(client, container) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, container, EMAIL)
    site = container.services.accounts().add_site(EMAIL, ["academy.example.com"])
    html = client.get("/dashboard").get_data(as_text=True)
    assert "No visits tracked yet" in text(html)
    assert f'data-site="{site.public_key}"' in unescape(html)  # the snippet, shown as text
    check_url = f"/onboarding/sites/{site.id}/first-visit"
    assert f'data-poll-url="{check_url}"' in html
    assert "/static/onboarding.js" in html
    assert client.get(check_url).get_json() == {"seen": False}

    _visit(container, site.public_key)
    assert client.get(check_url).get_json() == {"seen": True}
    html = client.get("/dashboard").get_data(as_text=True)
    assert "No visits tracked yet" not in html
    assert "/static/onboarding.js" not in html
    assert "YouTube" in text(html)


def test_a_failed_sync_says_why_and_links_to_the_connection_to_fix_it(client, container) -> None:  # type: ignore[no-untyped-def]
    account_id = sign_in(client, container, EMAIL)
    reason = "Kajabi no longer accepts this API key (it was deleted or rotated). Reconnect with a new key."
    with container.gateways.unit_of_work() as uow:
        connection = uow.connections.add(
            Connection(
                account_id=account_id,
                platform="kajabi",
                status=ConnectionStatus.NEEDS_ATTENTION,
                created_at=datetime.now(UTC),
                external_account_name="Mindful Money Academy",
                status_reason=reason,
            )
        )
        uow.commit()
    response = client.get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = text(html)
    assert "The sync with Kajabi (Mindful Money Academy) failed" in page
    assert reason in page
    assert f'href="/connections/{connection.id}/reconnect"' in html
    assert f'href="/connections/{connection.id}"' in html
    assert "No course platform connected yet" not in page  # it is connected, only failing
    assert client.get(f"/connections/{connection.id}/reconnect").status_code == 200


def test_an_account_with_imported_purchases_is_not_asked_to_connect_a_platform(client, container) -> None:  # type: ignore[no-untyped-def]
    account_id = sign_in(client, container, EMAIL)
    container.services.purchases().ingest(
        account_id, [PurchaseRecord("csv", "p-1", Money(9900, "USD"), datetime.now(UTC), email="a@example.com")]
    )
    page = text(client.get("/dashboard").get_data(as_text=True))
    assert "No course platform connected yet" not in page
    assert "$99.00" in page


def test_an_ended_trial_gets_a_page_that_says_how_to_see_the_reports_again(client, container) -> None:  # type: ignore[no-untyped-def]
    account_id = sign_in(client, container, EMAIL)
    container.services.purchases().ingest(
        account_id, [PurchaseRecord("csv", "p-1", Money(9900, "USD"), datetime.now(UTC), email="a@example.com")]
    )
    purchase_id = container.services.reports().recent_purchases(account_id, 1)[0].id
    assert client.get(f"/dashboard/purchases/{purchase_id}").status_code == 200
    with container.gateways.engine().begin() as connection:
        connection.execute(
            update(t.users)
            .where(t.users.c.id == account_id)
            .values(trial_ends_at=datetime.now(UTC) - timedelta(hours=1))
        )
    for url in (
        "/dashboard",
        "/dashboard?range=7d",
        "/dashboard/sources/Direct",
        f"/dashboard/purchases/{purchase_id}",
    ):
        response = client.get(url)
        assert response.status_code == 402, url
        page = text(response.get_data(as_text=True))
        assert "Your free trial has ended" in page
        assert "Tracking keeps running and nothing is deleted" in page
        assert 'href="/billing"' in response.get_data(as_text=True)
        assert "99.00" not in page  # no report figure leaks past the gate


def test_an_ended_subscription_says_so_and_how_to_subscribe_again(client, container) -> None:  # type: ignore[no-untyped-def]
    account_id = sign_in(client, container, EMAIL)
    with container.gateways.engine().begin() as connection:
        connection.execute(
            insert(t.billing_subscriptions).values(
                user_id=account_id, stripe_customer_id="cus_ended", stripe_status="canceled"
            )
        )
    response = client.get("/dashboard")
    assert response.status_code == 402
    page = text(response.get_data(as_text=True))
    assert "Your subscription has ended" in page
    assert "Your free trial has ended" not in page
    assert "Subscribe to see your reports" in page
