"""The tracking script on a creator's page, talking to the real app: a visit and a sign-up form end up as
a visitor with its source and email, and a purchase with that email is credited to that source."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from core.domain.attribution import Model
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord
from core.domain.reports import ReportRange
from tests.e2e.conftest import creator_pages

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

T = TypeVar("T")
PAGE = """<!doctype html><html><head><title>Launch course</title>
<script async src="{app}/t.js" data-site="{site}"></script></head>
<body><form action="/thanks" method="post"><input type="email" name="email" autocomplete="email">
<input type="password" name="password"><button>Join</button></form></body></html>"""


@pytest.fixture
def site(container):  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    return accounts.add_site("creator@example.com", ["creator.example"])


@pytest.fixture
def creator_origin(live_server: str, site) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The creator's own site, on another origin (localhost) than the app (127.0.0.1)."""
    with creator_pages(PAGE.format(app=live_server, site=site.public_key).encode(), "localhost") as origin:
        yield origin


def eventually(condition: Callable[[], T], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_visit_and_signup_form_credit_the_purchase_to_youtube(page, container, site, creator_origin) -> None:  # type: ignore[no-untyped-def]
    def identified() -> list[Any]:
        with container.gateways.unit_of_work() as uow:
            return list(uow.visitors.with_email(site.account_id, "buyer@example.com"))

    page.goto(f"{creator_origin}/course?utm_source=youtube&utm_medium=video&utm_campaign=launch")
    page.fill("input[type=email]", "  Buyer@Example.com ")
    page.fill("input[type=password]", "hunter2-secret")
    page.click("button")
    (visitor,) = eventually(identified)
    assert (visitor.first_touch.source, visitor.first_touch.campaign) == ("YouTube", "launch")

    container.services.purchases().ingest(
        site.account_id,
        [
            PurchaseRecord(
                platform="csv",
                platform_purchase_id="k-1",
                amount=Money(19900, "USD"),
                purchased_at=datetime.now(UTC),
                email="buyer@example.com",
            )
        ],
    )
    container.gateways.clock.override(_FiveMinutesLater())
    try:
        report = container.services.reports().sources(site.account_id, ReportRange.ALL_TIME, Model.FIRST_TOUCH)
    finally:
        container.gateways.clock.reset_override()
    (line,) = report.lines
    assert (line.totals.source, line.totals.revenue, line.totals.students) == ("YouTube", 19900, 1)


class _FiveMinutesLater:
    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(minutes=5)


SALES_PAGE = """<!doctype html><html><head><title>Sourdough Masterclass</title>
<script async src="{app}/t.js" data-site="{site}"></script></head>
<body><a id="enrol" href="https://sso.teachable.com/secure/4242/checkout/777">Enrol now</a></body></html>"""


def test_a_click_through_to_teachables_checkout_matches_the_sale_by_timing(page, container, site, live_server) -> None:  # type: ignore[no-untyped-def]
    """The buyer types no email anywhere and clicks through to the school's checkout, which runs no script:
    the real t.js beacons the click as the page is left, and the sale is matched to that browser by timing."""
    page.context.route(
        "https://sso.teachable.com/**", lambda route: route.fulfill(status=200, body="<title>Checkout</title>")
    )
    body = SALES_PAGE.format(app=live_server, site=site.public_key).encode()
    with creator_pages(body, "localhost") as origin:
        page.goto(f"{origin}/course?utm_source=youtube&utm_medium=video")
        page.wait_for_function("() => window.cs && window.cs.l")
        page.click("#enrol")
        page.wait_for_url("https://sso.teachable.com/**")

    def reached_checkout() -> list[Any]:
        with container.gateways.unit_of_work() as uow:
            now = datetime.now(UTC)
            return list(uow.identities.checkout_reaches(site.account_id, now - timedelta(minutes=5), now))

    assert eventually(reached_checkout)
    container.services.purchases().ingest(
        site.account_id,
        [
            PurchaseRecord(
                platform="teachable",
                platform_purchase_id="t-1",
                amount=Money(12900, "USD"),
                purchased_at=datetime.now(UTC),
                email="never.typed@example.com",
            )
        ],
    )
    with container.gateways.unit_of_work() as uow:
        purchase = uow.purchases.get_by_platform_id(site.account_id, "teachable", "t-1")
        assert purchase is not None
        assert purchase.match_method is not None
        assert purchase.match_method.value == "fingerprint"
        (first,) = [c.touch for c in uow.purchases.credits(purchase.id or 0) if c.model is Model.FIRST_TOUCH]
    assert first.source == "YouTube"
