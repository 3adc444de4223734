"""The dashboard in a real browser, on the hand-computed fixture of tests/integration/test_reports_api.py.

At 1280 px and at 375 px (a phone), with a screenshot of each page saved as a file (the path is printed; set
COURSESIGNAL_SCREENSHOTS to choose the folder, CI keeps test-artifacts/); sorting with the keyboard, the
switches, the drill-down clicked through to one purchase, and the recent purchases
list updating by itself after the fake Kajabi delivers a purchase webhook to the running app.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from playwright.sync_api import expect

from core.domain.events import EventKind, TrackerEvent
from tests.e2e.conftest import DESKTOP_UA
from tests.fakes.kajabi import FakeKajabi
from tests.integration.test_reports_api import NOW, build_world
from tests.live_app import Live, serve_app
from tests.unit.fakes import FixedClock

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
SCREENSHOTS = Path(
    os.environ.get("COURSESIGNAL_SCREENSHOTS", Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots")
)
EMAIL = "creator@example.com"
NO_VALUE = "\N{EN DASH}"  # a cell without a value
# Table cells whose text does not fit their box (cut off, or hidden behind an overflow).
CLIPPED_CELLS = """[...document.querySelectorAll('table th, table td')]
  .filter(c => c.getClientRects().length && c.scrollWidth > c.clientWidth + 1)
  .map(c => c.textContent.trim())"""


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    with FakeKajabi() as fake, serve_app(database_url, tmp_path, fake) as live:
        build_world(live.container)
        # Before any request: the reports (and the connection's sync) are built with the fixture's "now".
        live.container.gateways.clock.override(providers.Object(FixedClock(NOW)))
        yield live


class Browser:
    """One signed-in browser window at a given size, failing on any Content-Security-Policy violation."""

    def __init__(self, browser: Any, live: Live, viewport: dict[str, int], email: str = EMAIL) -> None:
        self.context = browser.new_context(
            user_agent=DESKTOP_UA, viewport=viewport, base_url=live.base_url, accept_downloads=True
        )
        self.context.add_cookies([{"name": "session", "value": live.session_cookie(email), "url": live.base_url}])
        self.page = self.context.new_page()
        self.width = viewport["width"]
        self.violations: list[str] = []
        self.page.on(
            "console",
            lambda m: self.violations.append(m.text) if "Content Security Policy" in m.text else None,
        )

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"dashboard-{name}-{self.width}px.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"\nscreenshot: {path}")
        return path

    def fits_the_width(self) -> bool:
        # After a click the new page may still be loading its stylesheets; a layout measured then is unstyled.
        self.page.wait_for_load_state("load")
        return bool(self.page.evaluate("document.documentElement.scrollWidth") <= self.width)

    def table_rows(self, table: Any) -> list[list[str]]:
        rows = []
        for row in table.locator("tbody tr").all():
            rows.append([" ".join(c.split()) for c in row.locator("th, td").all_inner_texts()])
        return rows


@pytest.fixture
def windows(browser: Any, live: Live) -> Iterator[dict[str, Browser]]:
    opened = {"desktop": Browser(browser, live, DESKTOP), "phone": Browser(browser, live, PHONE)}
    yield opened
    for window in opened.values():
        window.context.close()
        assert window.violations == []


def _source_names(page: Any) -> list[str]:
    return [n.strip() for n in page.locator("table.report-table tbody tr:not(.unmatched) th a").all_inner_texts()]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_number_on_the_dashboard_at_desktop_and_phone_width(windows: dict[str, Browser]) -> None:
    for name, window in windows.items():
        page = window.page
        page.goto("/dashboard?range=7d&model=first_touch")
        expect(page.get_by_role("heading", name="Revenue by source")).to_be_visible()
        summary = page.get_by_role("region", name="Summary")
        expect(summary).to_contain_text("$185.00")  # 100 - 20 refunded + 50 + 35 + 20 unmatched
        expect(summary.locator(".trend.up")).to_contain_text("▲ 85.0%")  # against 100.00 on Nov 10
        expect(summary).to_contain_text("$46.25")  # 185 / 4 purchases
        expect(summary).to_contain_text("75.0%")  # 3 of 4 matched
        bars = page.locator("svg.chart-revenue .bar")
        expect(bars).to_have_count(7)  # one bar a day of the range
        assert [bars.nth(i).get_attribute("aria-label") for i in range(7)] == [
            "Nov 14, 2026: $0.00, 0 purchases",
            "Nov 15, 2026: $0.00, 0 purchases",
            "Nov 16, 2026: $50.00, 1 purchase",
            "Nov 17, 2026: $0.00, 0 purchases",
            "Nov 18, 2026: $80.00, 1 purchase",  # 100.00 less the 20.00 refunded
            "Nov 19, 2026: $55.00, 2 purchases",  # 35.00 and the unmatched 20.00 (the 99.00 EUR is another currency)
            "Nov 20, 2026: $0.00, 0 purchases",
        ]
        expect(summary).to_contain_text("Google")  # the top source
        expect(summary).to_contain_text("$85.00, 46.0% of revenue")
        split = page.get_by_role("list", name="Revenue by source")
        expect(split.locator("li")).to_have_count(3)
        expect(split.locator("li").first).to_contain_text("Google")
        expect(split.locator("li").last).to_contain_text("Unmatched")
        table = page.get_by_role("table", name="Revenue by source")
        assert window.table_rows(table) == [
            ["Google Organic Search", "1", "$85.00", "1", "100.0%", "$42.50", "$85.00"],
            ["YouTube Organic Video", "2", "$80.00", "1", "50.0%", "$80.00", "$40.00"],
            ["Direct", "1", "$0.00", "0", "0.0%", NO_VALUE, "$0.00"],
            ["Unmatched", NO_VALUE, "$20.00", "1 purchase"],
        ]
        expect(page.locator("#recent-purchases li")).to_have_count(6)
        assert window.fits_the_width(), f"the page is wider than {window.width} px"
        window.screenshot(f"overview-{name}")

    phone = windows["phone"].page
    # At 375 px each source is a card with all seven figures: nothing scrolls sideways, nothing is cut.
    cards = phone.locator("table.report-table tbody tr")
    youtube = cards.nth(1)
    for label in ["Visitors", "Revenue", "Students", "Conversion %", "Avg Order Value", "Revenue/Visitor"]:
        cell = youtube.locator(f'td[data-label="{label}"]')
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= box["x"] + box["width"] <= PHONE["width"]
    assert phone.evaluate(CLIPPED_CELLS) == []
    expect(phone.get_by_role("navigation", name="Sort revenue by source")).to_be_visible()
    for link in phone.locator(".switch a, .sort-cards a").all():
        assert link.bounding_box()["height"] >= 44  # type: ignore[index]  # a finger's size
    desktop = windows["desktop"].page
    expect(desktop.get_by_role("navigation", name="Sort revenue by source")).to_be_hidden()
    assert desktop.evaluate(CLIPPED_CELLS) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sorting_with_the_keyboard_and_switching_range_model_and_grouping(windows: dict[str, Browser]) -> None:
    page = windows["desktop"].page
    page.goto("/dashboard?range=7d")
    assert _source_names(page) == ["Google", "YouTube", "Direct"]
    source_header = page.get_by_role("columnheader", name="Source")
    source_header.get_by_role("link").focus()
    page.keyboard.press("Tab")
    visitors = page.get_by_role("link", name="Visitors", exact=True)
    expect(visitors).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=-visitors**")
    expect(page.get_by_role("columnheader", name="Visitors")).to_have_attribute("aria-sort", "descending")
    assert _source_names(page)[0] == "YouTube"
    page.get_by_role("link", name="Visitors", exact=True).focus()
    page.keyboard.press("Enter")  # the active column flips
    page.wait_for_url("**sort=visitors**")
    expect(page.get_by_role("columnheader", name="Visitors")).to_have_attribute("aria-sort", "ascending")
    assert _source_names(page) == ["Google", "Direct", "YouTube"]

    page.get_by_role("link", name="Last touch").click()
    page.wait_for_url("**model=last_touch**")
    assert "sort=visitors" in page.url  # the other choices are kept
    assert "range=7d" in page.url
    assert _source_names(page) == ["Google", "Instagram", "Direct", "YouTube"]
    expect(page.get_by_role("row", name="Instagram")).to_contain_text("$80.00")

    page.get_by_role("link", name="By campaign").click()
    page.wait_for_url("**group=campaign**")
    campaigns = page.get_by_role("table", name="Revenue by campaign")
    # Last touch: Instagram's 80.00 and Google's 85.00 came without a campaign.
    expect(campaigns.get_by_role("row", name="(no campaign)")).to_contain_text("$165.00")
    expect(campaigns.get_by_role("row", name="launch")).to_contain_text("$0.00")

    page.get_by_role("link", name="All time").click()
    page.wait_for_url("**range=all**")
    expect(page.get_by_role("link", name="All time")).to_have_attribute("aria-current", "true")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_drill_down_from_a_source_to_one_purchase_and_its_visits(windows: dict[str, Browser]) -> None:
    for name, window in windows.items():
        page = window.page
        page.goto("/dashboard?range=7d")
        page.get_by_role("table", name="Revenue by source").get_by_role("link", name="YouTube").click()
        expect(page.get_by_role("heading", name="YouTube", exact=True)).to_be_visible()
        mediums = page.get_by_role("table", name="Mediums of YouTube")
        assert window.table_rows(mediums) == [["video", "2", "$80.00", "1", "50.0%", "$80.00", "$40.00"]]
        pages = window.table_rows(page.get_by_role("table", name="Landing pages of YouTube"))
        assert ["https://example.com/course", "1", "$80.00", "1", "100.0%", "$80.00", "$80.00"] in pages
        assert window.fits_the_width(), f"the drill-down is wider than {window.width} px"
        window.screenshot(f"source-{name}")

        page.get_by_role("link", name="$80.00").click()
        expect(page.get_by_role("heading", name="$80.00")).to_be_visible()
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text("by the email the buyer gave on a visit")
        expect(facts.locator(".confidence")).to_have_text("95%")
        expect(facts).to_contain_text("$20.00 of $100.00")  # refunded
        visits = page.locator("ol.sessions li")
        expect(visits).to_have_count(2)
        expect(visits.first).to_contain_text("YouTube (Organic Video)")
        expect(visits.last).to_contain_text("Instagram (Organic Social)")
        assert window.fits_the_width(), f"the purchase page is wider than {window.width} px"
        window.screenshot(f"purchase-{name}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_purchase_webhook_updates_an_open_dashboard_in_the_model_it_shows(
    windows: dict[str, Browser], live: Live
) -> None:
    account_id = live.container.services.accounts().ensure_account(EMAIL).id
    live.fake.add_site("Mindful Money Academy")
    live.connect(account_id)
    first, last = windows["phone"].page, windows["desktop"].page
    first.goto("/dashboard")  # 30 days, first touch
    last.goto("/dashboard?model=last_touch")
    recent = first.locator("#recent-purchases li")
    expect(recent).to_have_count(6)
    times = first.locator("#recent-purchases time").all_inner_texts()  # as the server wrote them
    assert times[0] == "Nov 19, 2026, 1:00\N{NARROW NO-BREAK SPACE}PM"
    summary = first.get_by_role("region", name="Summary")
    expect(summary).to_contain_text("$285.00")
    youtube = first.get_by_role("table", name="Revenue by source").get_by_role("row", name="YouTube")
    expect(youtube).to_contain_text("$180.00")
    offer = live.fake.add_offer("Email List Accelerator", 19_700)
    bought = live.fake.add_purchase(
        live.fake.add_customer("a@example.com", "Ada"), offer, created_at=NOW - timedelta(minutes=5)
    )
    started = time.perf_counter()
    assert live.fake.deliver("purchase", bought) == [202]
    expect(recent.first).to_contain_text("$197.00", timeout=20_000)
    shown = time.perf_counter() - started
    expect(recent.first).to_contain_text("Email List Accelerator")
    # Visitor A came from YouTube first and from Instagram last: each window names the touch it shows.
    expect(recent.first).to_contain_text("YouTube")
    expect(last.locator("#recent-purchases li").first).to_contain_text("Instagram", timeout=20_000)
    expect(recent).to_have_count(7)
    # The tiles, the chart and the table follow, and the times keep the format the server wrote them in.
    expect(summary).to_contain_text("$482.00")
    expect(summary.locator(".figure").nth(1)).to_contain_text("6")
    expect(first.get_by_role("table", name="Revenue by source").get_by_role("row", name="YouTube")).to_contain_text(
        "$377.00"
    )
    expect(first.locator("svg.chart-revenue .bar").last).to_have_attribute(
        "aria-label", "Nov 20, 2026: $197.00, 1 purchase"
    )
    assert first.locator("#recent-purchases time").all_inner_texts()[1:] == times
    expect(first.get_by_role("status").filter(has_text="New purchase received")).to_be_visible()
    print(f"\nwebhook -> shown in the open dashboard: {shown:.1f} s")
    windows["phone"].screenshot("live-feed-phone")
    first.get_by_role("link", name="$197.00").click()
    expect(first.get_by_role("heading", name="$197.00")).to_be_visible()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_new_account_sees_what_to_do_and_the_visit_check_turns_green(
    browser: Any, database_url: str, tmp_path: Path
) -> None:
    with FakeKajabi() as fake, serve_app(database_url, tmp_path, fake) as fresh:
        fresh.container.services.accounts().ensure_account("new@example.com")
        site = fresh.container.services.accounts().add_site("new@example.com", ["academy.example.com"])
        window = Browser(browser, fresh, PHONE, email="new@example.com")
        try:
            page = window.page
            page.goto("/dashboard")
            expect(page.get_by_role("heading", name="No course platform connected yet")).to_be_visible()
            expect(page.get_by_role("link", name="Connect a platform")).to_have_attribute("href", "/connections/")
            expect(page.get_by_role("heading", name="No visits tracked yet")).to_be_visible()
            expect(page.locator("#snippet-code")).to_contain_text(f'data-site="{site.public_key}"')
            expect(page.locator("#first-visit")).to_have_class("visit-check waiting")
            assert window.fits_the_width()
            window.screenshot("new-account-phone")
            _first_visit(fresh, site.public_key)
            expect(page.locator("#first-visit")).to_have_class("visit-check seen", timeout=20_000)
            expect(page.locator("#first-visit")).to_contain_text("First visit received")
        finally:
            window.context.close()
        assert window.violations == []


def _first_visit(live: Live, site_key: str) -> None:
    outcome = live.container.services.tracking().record(
        TrackerEvent(
            site_key=site_key,
            client_event_id="first-visit-1",
            kind=EventKind.PAGEVIEW,
            visitor_key="first-visitor",
            url="https://academy.example.com/",
            received_at=datetime.now(UTC),
            user_agent=DESKTOP_UA,
        )
    )
    assert outcome.stored


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_charts_tooltip_on_hover_on_tap_and_from_the_keyboard(
    windows: dict[str, Browser], browser: Any, live: Live
) -> None:
    page = windows["desktop"].page
    page.goto("/dashboard?range=7d")
    tip = page.locator(".chart-daily .chart-tip")
    bars = page.locator("svg.chart-revenue .bar")
    expect(tip).to_be_hidden()
    bars.nth(2).hover()
    expect(tip).to_be_visible()
    expect(tip).to_have_text("Nov 16, 2026: $50.00, 1 purchase")
    # The keyboard: Tab goes from the last switch to the chart once (today's bar), the arrows walk the days.
    page.get_by_role("link", name="By campaign").focus()
    page.keyboard.press("Tab")
    expect(bars.last).to_be_focused()
    expect(tip).to_have_text("Nov 20, 2026: $0.00, 0 purchases")
    page.keyboard.press("ArrowLeft")
    expect(bars.nth(5)).to_be_focused()
    expect(tip).to_have_text("Nov 19, 2026: $55.00, 2 purchases")
    page.keyboard.press("Home")
    expect(tip).to_have_text("Nov 14, 2026: $0.00, 0 purchases")
    page.keyboard.press("Tab")  # and on out of the chart: one tab stop, not seven
    expect(bars.first).not_to_be_focused()
    expect(tip).to_be_hidden()
    # A finger: tapping a day shows it, the tooltip stays inside the chart's box.
    phone = browser.new_context(
        user_agent=DESKTOP_UA, viewport=PHONE, has_touch=True, is_mobile=True, base_url=live.base_url
    )
    phone.add_cookies([{"name": "session", "value": live.session_cookie(EMAIL), "url": live.base_url}])
    try:
        touch = phone.new_page()
        touch.goto("/dashboard?range=7d")
        touch.locator("svg.chart-revenue .bar").nth(4).tap()
        phone_tip = touch.locator(".chart-daily .chart-tip")
        expect(phone_tip).to_have_text("Nov 18, 2026: $80.00, 1 purchase")
        figure, shown = touch.locator(".chart-daily").bounding_box(), phone_tip.bounding_box()
        assert figure is not None
        assert shown is not None
        assert figure["x"] <= shown["x"] <= shown["x"] + shown["width"] <= figure["x"] + figure["width"]
        assert touch.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        phone.close()
