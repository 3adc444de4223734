"""Opting out in a real browser: a visitor follows the creator's privacy-policy link to our hosted opt-out
page, clicks through to the creator's own domain, and from then on nothing from that browser is stored."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from adapters.persistence import tables as t
from tests.e2e.conftest import DESKTOP_UA, creator_pages

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

DOMAIN = "school.creator.test"  # resolved to the loopback by the browser fixture's host rules
PAGE = """<!doctype html><html><head><title>Course</title>
<script async src="{app}/t.js" data-site="{site}"></script></head>
<body><p>Welcome</p><form action="/thanks" method="post"><input type="email" name="email">
<button>Join</button></form></body></html>"""


@pytest.fixture
def site(container):  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    return accounts.add_site("creator@example.com", [DOMAIN])


@pytest.fixture
def creator_origin(live_server: str, site) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The creator's site on its own domain (another site than the app's 127.0.0.1)."""
    with creator_pages(PAGE.format(app=live_server, site=site.public_key).encode(), DOMAIN) as origin:
        yield origin


def stored(container, site) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """How many events and visitors the site has."""
    with container.gateways.engine().connect() as connection:
        events = connection.execute(select(func.count()).select_from(t.events).where(t.events.c.site_id == site.id))
        visitors = connection.execute(
            select(func.count()).select_from(t.visitors).where(t.visitors.c.site_id == site.id)
        )
        return int(events.scalar_one()), int(visitors.scalar_one())


def settle(container, site, expected: tuple[int, int] | None = None) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Wait until the stored counts stop moving (or reach `expected`), then return them."""
    last, deadline = stored(container, site), time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = stored(container, site)
        if (expected is not None and now == expected) or (expected is None and now == last and now != (0, 0)):
            return now
        last = now
    return last


def test_the_hosted_page_opts_the_browser_out_on_the_creators_domain(
    page, container, site, creator_origin, live_server
) -> None:  # type: ignore[no-untyped-def]
    # Tracked as usual first: the page works and its events arrive.
    page.goto(f"{creator_origin}/course?utm_source=youtube")
    before = settle(container, site)
    assert before == (1, 1)

    # The creator's privacy policy links to our hosted page; its button leads to the creator's own domain over
    # HTTPS. The test's creator site speaks plain HTTP on a free port, so that one hop is redirected there.
    page.route(
        f"https://{DOMAIN}/**",
        lambda route: route.fulfill(status=302, headers={"Location": f"{creator_origin}/?cs_optout=1"}),
    )
    page.goto(f"{live_server}/privacy/optout/{site.public_key}")
    page.get_by_role("link", name=f"Opt out on {DOMAIN}").click()
    page.wait_for_url(f"{creator_origin}/?cs_optout=1")
    page.get_by_text("Welcome").wait_for()

    # From now on: new pages, a campaign link, a sign-up form. Nothing of it may be stored.
    page.goto(f"{creator_origin}/pricing?utm_source=instagram")
    page.fill("input[type=email]", "student@example.com")
    page.click("button")
    page.goto(f"{creator_origin}/lesson")
    assert page.evaluate("localStorage.getItem('_cs_optout')") == "1"
    assert page.evaluate("document.cookie").find("_csv=") == -1  # the visitor id is gone too

    # A second browser, not opted out, proves events still flow; once its visit is in, the first one's
    # would have been too.
    other = page.context.browser.new_context(user_agent=DESKTOP_UA)
    try:
        other.new_page().goto(f"{creator_origin}/other?utm_source=tiktok")
        after = settle(container, site, expected=(before[0] + 1, before[1] + 1))
    finally:
        other.close()
    assert after == (before[0] + 1, before[1] + 1)
    with container.gateways.engine().connect() as connection:
        urls = list(connection.execute(select(t.events.c.url)).scalars())
        emails = list(connection.execute(select(t.visitor_emails.c.email)).scalars())
    assert not [url for url in urls if "pricing" in url or "lesson" in url or "cs_optout" in url]
    assert emails == []
