"""The purchases page: every purchase, searchable by email, source, platform and day, paginated, each opening
its journey; and the account's money, date and time-zone settings, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.domain.money import Money
from core.domain.purchases import PurchaseRecord
from tests.conftest import sign_in
from tests.integration.test_reports_api import NOW, world  # noqa: F401 - the fixture
from tests.web_session import csrf_token


@pytest.fixture
def signed_in(client, container, world):  # type: ignore[no-untyped-def]  # noqa: F811
    sign_in(client, container)
    return client


def save_display(client, locale: str, zone: str, currency: str = ""):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/account")
    data = {"display-csrf_token": token, "display-locale": locale, "display-time_zone": zone}
    return client.post("/account/display", data={**data, "display-currency": currency})


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def amounts(html: str) -> list[str]:
    return re.findall(r'class="purchase-amount" href="/dashboard/purchases/\d+">([^<]+)<', html)


def test_every_purchase_newest_first_each_opening_its_journey(signed_in) -> None:  # type: ignore[no-untyped-def]
    html = signed_in.get("/purchases").get_data(as_text=True)
    assert amounts(html) == ["$20.00", "€99.00", "$35.00", "$80.00", "$50.00", "$100.00"]
    page = text(html)
    assert "6 purchases." in page
    assert "Unmatched" in page  # the stranger's 20.00
    assert "First touch YouTube , last touch Instagram · 95% sure" in page  # a@example.com: 100.00 - 20.00
    journey = re.search(r'href="(/dashboard/purchases/\d+)">\$80.00<', html).group(1)  # type: ignore[union-attr]
    detail = text(signed_in.get(journey).get_data(as_text=True))
    assert "by the email the buyer gave on a visit" in detail
    assert "Confidence 95%" in detail
    assert detail.index("YouTube (Organic Video)") < detail.index("Instagram (Organic Social)")


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("email=B%40EXAMPLE", ["€99.00", "$35.00", "$50.00"]),  # a part of the address, any case
        ("source=youtube", ["$80.00", "$100.00"]),  # first or last touch
        ("source=Instagram", ["$80.00"]),
        ("platform=csv", ["$20.00", "€99.00", "$35.00", "$80.00", "$50.00", "$100.00"]),
        ("platform=kajabi", []),
        ("from=2026-11-18&to=2026-11-18", ["$80.00"]),
        ("from=2026-11-19", ["$20.00", "€99.00", "$35.00"]),
        ("to=2026-11-10", ["$100.00"]),
        ("email=b%40&source=google&from=2026-11-17", ["€99.00", "$35.00"]),
        ("email=%25", []),  # a % is a character to find, not a wildcard
    ],
)
def test_search_by_email_source_platform_and_days(signed_in, query: str, found: list[str]) -> None:  # type: ignore[no-untyped-def]
    html = signed_in.get(f"/purchases?{query}").get_data(as_text=True)
    assert amounts(html) == found
    if not found:
        assert "No purchase matches this search." in text(html)


def test_the_days_of_a_search_are_the_accounts_days(signed_in, container) -> None:  # type: ignore[no-untyped-def]
    # Kiritimati is UTC+14: the purchases of Nov 19 between 10:00 and 13:00 UTC fall on Nov 20 there, and
    # the one of Nov 18 at 11:00 UTC on Nov 19 (1:00 AM).
    assert save_display(signed_in, "en_US", "Pacific/Kiritimati").status_code == 302
    html = signed_in.get("/purchases?from=2026-11-19&to=2026-11-19").get_data(as_text=True)
    assert amounts(html) == ["$80.00"]
    assert "Nov 19, 2026, 1:00 AM · CSV file" in text(html)
    assert amounts(signed_in.get("/purchases?from=2026-11-20").get_data(as_text=True)) == ["$20.00", "€99.00", "$35.00"]


def test_purchases_come_25_to_a_page(signed_in, container) -> None:  # type: ignore[no-untyped-def]
    account_id = container.services.accounts().ensure_account("creator@example.com").id
    container.services.purchases().ingest(
        account_id,
        [
            PurchaseRecord(
                "csv", f"bulk-{i}", Money(100 + i, "USD"), NOW - timedelta(days=30, minutes=i), email="x@y.z"
            )
            for i in range(30)
        ],
    )
    first = signed_in.get("/purchases").get_data(as_text=True)
    assert len(amounts(first)) == 25
    assert "36 purchases, page 1 of 2." in text(first)
    assert 'href="/purchases?page=2" rel="next"' in first
    second = signed_in.get("/purchases?page=2").get_data(as_text=True)
    assert len(amounts(second)) == 11
    assert amounts(second)[-1] == "$1.29"  # the oldest of the bulk
    assert 'href="/purchases?page=1" rel="prev"' in second
    searched = signed_in.get("/purchases?email=x%40y&page=2").get_data(as_text=True)
    assert re.search(r'href="/purchases\?email=x(@|%40)y&amp;page=1" rel="prev"', searched)  # the search is kept
    assert signed_in.get("/purchases?page=abc").status_code == 200


def test_money_and_times_follow_the_accounts_settings(signed_in) -> None:  # type: ignore[no-untyped-def]
    account = signed_in.get("/account").get_data(as_text=True)
    assert 'id="display-settings"' in account
    assert '<option selected value="en_US">' in account
    assert save_display(signed_in, "de_DE", "Europe/Berlin", "EUR").status_code == 302
    page = text(signed_in.get("/dashboard?range=7d").get_data(as_text=True))
    # The report is now in euros (the account's one EUR purchase: Google's 99.00), written the German way.
    assert "Top source Google 99,00 €, 100,0% of revenue" in page
    assert "19.11.2026, 13:00" in page  # the 12:00 UTC purchase, in Berlin
    assert "Times in Europe/Berlin." in page
    csv = signed_in.get("/dashboard?range=7d").get_data(as_text=True)
    assert "currency=EUR" in csv  # the download is the same report
    assert save_display(signed_in, "en_US", "Mars/Base").status_code == 302
    assert "Europe/Berlin" in text(signed_in.get("/account").get_data(as_text=True))  # unchanged
    # The API keeps its minor units whatever the pages show.
    body = signed_in.get("/api/v1/reports/summary?range=7d").get_json()
    assert body["revenue"] == 18500
