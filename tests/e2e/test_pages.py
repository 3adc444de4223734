"""Every page of the product in a real browser, at 375 px (a phone) and 1280 px (a laptop): nothing wider than
the window, no table cell cutting its text, 0 serious or critical accessibility violations by axe-core, no
Content-Security-Policy violation, and a screenshot of each (COURSESIGNAL_SCREENSHOTS chooses the folder).

PAGES is the one table of pages: add a page there and it gets every check. axe-core is the npm package pinned
in tests/e2e/axe (`make browser-deps` runs `npm ci` there), added to each page by Playwright as an init script,
which no page's CSP can block.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from playwright.sync_api import expect
from sqlalchemy import update

from adapters.persistence.tables import beta_members, users
from core.domain.connections import DeliveryState
from plugins import csv_import
from tests.conftest import require
from tests.e2e.conftest import DESKTOP_UA, SCREENSHOTS
from tests.fakes.kajabi import FakeKajabi
from tests.integration.test_reports_api import NOW, build_world
from tests.live_app import Live, serve_app
from tests.unit.fakes import FixedClock
from tests.web_session import last_mail_to, links_in

# One worker runs the whole module under pytest-xdist: its `world` (a served app with a seeded account) is built once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("e2e-pages")]

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
EMAIL = "creator@example.com"
# Creators caught at other points: in the setup wizard's steps, and after the free trial.
WIZARD_CSV, WIZARD_CHOOSE, WIZARD_SYNC = "csv@example.com", "two-sites@example.com", "syncing@example.com"
TRIAL_ENDED = "trial-ended@example.com"
BETA = "beta@example.com"  # a beta member, with a setup-help request and feedback sent
OPERATOR = "olga@example.com"
WIDTHS = {"375px": {"width": 375, "height": 812}, "1280px": {"width": 1280, "height": 900}}
# The impacts that fail the test; "moderate" and "minor" findings are printed, not failed.
FAILING_IMPACTS = ("serious", "critical")


@dataclass(frozen=True)
class World:
    live: Live
    values: dict[str, str]  # what page addresses are filled in with: {connection_id}, {site_id}, ...


def _wrong_kajabi_secret(page: Any, world: World) -> None:
    """The connect form after Kajabi refused the key: what the creator typed stays, the secret does not."""
    page.fill("#field-client_id", world.live.fake.client_id)
    page.fill("#field-client_secret", "not-the-secret")
    page.click(".connect-form button[type=submit]")
    expect(page.locator(".form-error")).to_contain_text("did not accept this client ID and secret")


def _choose_kajabi_in_setup(page: Any, world: World) -> None:
    """The setup wizard's connect step, reached the way a creator does: Kajabi chosen, then Continue."""
    page.check("input[value=kajabi]")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Connect Kajabi")).to_be_visible()


def _rename_a_source(page: Any, world: World) -> None:
    """Settings > Sources after saving a rule: the rules table and the confirmation."""
    page.fill("#match", "Google")
    page.fill("#source", "Google Search")
    page.select_option("#channel", "Organic Search")
    page.click("form[action$='/sources/rules'] button[type=submit]")
    expect(page.locator(".rules-table")).to_contain_text("Google Search")


def _open_the_menu(page: Any, world: World) -> None:
    """On a phone the menu is folded behind its button; open it with the keyboard, the third stop after the
    skip link and the logo (on a laptop it is always there)."""
    if page.viewport_size["width"] < 960:
        menu = page.get_by_role("navigation", name="Main")
        expect(menu).to_be_hidden()
        for _ in range(3):
            page.keyboard.press("Tab")
        button = page.get_by_role("button", name="Menu")
        expect(button).to_be_focused()
        expect(button).to_have_attribute("aria-expanded", "false")
        page.keyboard.press("Enter")
        expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing")).to_be_visible()


def _feedback_prompt_shown(page: Any, world: World) -> None:
    """The beta member's weekly feedback prompt is on the dashboard (a week after their last answer)."""
    expect(page.get_by_role("heading", name="Your weekly beta feedback")).to_be_visible()


@dataclass(frozen=True)
class Shown:
    name: str
    path: str  # with {placeholders} from World.values
    signed_in: bool = True
    then: Callable[[Any, World], None] | None = None  # to reach a state of the page (an error, an open menu)
    status: int = 200
    who: str = EMAIL  # the creator signed in (others are at other points of setup or billing)


PAGES = (
    Shown("front-page", "/", signed_in=False),
    Shown("login", "/login", signed_in=False),
    Shown("signup", "/signup", signed_in=False),
    Shown("forgot-password", "/reset", signed_in=False),
    Shown("choose-new-password", "/reset/{reset_token}", signed_in=False),
    Shown("check-inbox", "/signup/check-inbox", signed_in=False),
    Shown("broken-link", "/verify/not-a-real-token", signed_in=False, status=400),
    Shown("opt-out", "/privacy/optout/{site_key}", signed_in=False),
    Shown("not-found", "/no-such-page", status=404),
    Shown("not-found-signed-out", "/no-such-page", signed_in=False, status=404),
    Shown("menu-open", "/connections/", then=_open_the_menu),
    Shown("connections", "/connections/"),
    Shown("connection", "/connections/{connection_id}"),
    Shown("failed-deliveries", "/connections/{connection_id}/deliveries"),
    Shown("connect-kajabi", "/connections/new/kajabi"),
    Shown("connect-kajabi-refused", "/connections/new/kajabi", then=_wrong_kajabi_secret),
    Shown("reconnect-kajabi", "/connections/{connection_id}/reconnect"),
    Shown("connection-choose-site", "/connections/{choosing_id}/choose"),
    Shown("sites", "/sites/"),
    Shown("site-settings", "/sites/{site_id}/settings"),
    Shown("tracking-snippet", "/onboarding/snippet"),
    Shown("setup-platform", "/onboarding/platform"),
    Shown("setup-connect", "/onboarding/platform", then=_choose_kajabi_in_setup),
    Shown("setup-csv-upload", "/onboarding/connect", who=WIZARD_CSV),
    Shown("setup-choose-site", "/onboarding/choose", who=WIZARD_CHOOSE),
    Shown("setup-sync", "/onboarding/sync", who=WIZARD_SYNC),
    Shown("privacy", "/privacy/"),
    Shown("sources", "/sources/"),
    Shown("sources-rule-added", "/sources/", then=_rename_a_source),
    Shown("account", "/account"),
    Shown("dashboard", "/dashboard"),
    Shown("dashboard-source", "/dashboard/sources/YouTube"),
    Shown("dashboard-purchase", "/dashboard/purchases/1"),
    Shown("dashboard-all-time-by-channel", "/dashboard?range=all&group=channel&model=last_touch"),
    Shown("dashboard-campaigns", "/dashboard?group=campaign"),
    Shown("dashboard-custom-range", "/dashboard?range=custom&from=2026-11-10&to=2026-11-19"),
    Shown("purchases", "/purchases"),
    Shown("purchases-search", "/purchases?source=youtube&from=2026-11-01"),
    Shown("billing", "/billing"),
    Shown("trial-ended", "/dashboard", who=TRIAL_ENDED, status=402),
    Shown("beta", "/beta", who=BETA),
    Shown("dashboard-beta-feedback-prompt", "/dashboard", who=BETA, then=_feedback_prompt_shown),
    Shown("operator-beta", "/operator/beta", who=OPERATOR),
)


@pytest.fixture(scope="module")
def world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One creator with the reports fixture's visits and purchases, a Kajabi connection on the fake, and a
    webhook delivery that failed while Kajabi was down: every page has something to show."""
    require(AXE.exists(), f"axe-core is not installed at {AXE}: run `make browser-deps`")
    folder = tmp_path_factory.mktemp("pages")
    shutil.copy(sqlite_template, folder / "coursesignal.db")
    url = f"sqlite:///{folder / 'coursesignal.db'}"
    with FakeKajabi() as fake, serve_app(url, folder, fake, retry_delays=(0.01,) * 4, plugins=(csv_import,)) as live:
        build_world(live.container)
        fake.add_site("Mindful Money Academy")
        _, account_id = live.client(EMAIL)
        connection_id = live.connect(account_id)
        offer = fake.add_offer("Course Launch Blueprint", 49_700)
        sale = fake.add_purchase(fake.add_customer("ava@example.com", "Ava"), offer)
        fake.fail_next(1000, status=503)
        assert fake.deliver("purchase", sale) == [202]
        deadline = time.monotonic() + 30
        while _delivery_state(live) is not DeliveryState.FAILED:
            assert time.monotonic() < deadline, "the delivery never failed"
            time.sleep(0.05)
        fake.clear_faults()
        (site,) = live.container.services.accounts().sites(account_id)
        values = {"connection_id": str(connection_id), "site_id": str(site.id), "site_key": site.public_key}
        values.update(_others(live, account_id, folder))
        # The reports read "now" as the fixture's.
        live.container.gateways.clock.override(providers.Object(FixedClock(NOW)))
        yield World(live, values)


def _others(live: Live, account_id: int, folder: Path) -> dict[str, str]:
    """The states the main creator is past: a second Kajabi site to choose from, the wizard's steps, a reset
    link, an ended trial. Returns what their addresses are filled in with."""
    connections, onboarding = live.container.services.connections(), live.container.services.onboarding()
    live.fake.add_site("Second Academy")
    choosing = connections.connect(account_id, "kajabi", live.credentials())
    assert choosing.needs_choice
    _, csv_account = live.client(WIZARD_CSV)
    onboarding.choose_platform(csv_account, "csv")
    for email in (WIZARD_CHOOSE, WIZARD_SYNC):
        _, wizard_account = live.client(email)
        onboarding.choose_platform(wizard_account, "kajabi")
        result = connections.connect(wizard_account, "kajabi", live.credentials())
        onboarding.record_connection(wizard_account, result.connection.id)
        if email == WIZARD_SYNC:
            choice = connections.choices(wizard_account, result.connection.id)[0]
            connections.choose(wizard_account, result.connection.id, choice.id)
    live.wait()
    _, ended_account = live.client(TRIAL_ENDED)
    with live.container.gateways.engine().begin() as connection:
        connection.execute(
            update(users).where(users.c.id == ended_account).values(trial_ends_at=NOW - timedelta(days=1))
        )
    _, beta_account = live.client(BETA)
    beta = live.container.services.beta()
    beta.invite(BETA)
    beta.request_setup_help(beta_account, "Our Kajabi checkout is on a subdomain of a subdomain: help us check it.")
    beta.send_feedback(beta_account, "Whether first touch counts a visit from before the trial started.", "")
    with live.container.gateways.engine().begin() as connection:
        # A week after the last answer as the pages' clock reads it: the weekly prompt is due on the dashboard.
        connection.execute(
            update(beta_members)
            .where(beta_members.c.user_id == beta_account)
            .values(feedback_prompt_closed_at=NOW - timedelta(days=8))
        )
    live.client(OPERATOR)
    live.container.services.accounts().grant_operator(OPERATOR)
    live.container.services.accounts().request_password_reset(EMAIL)
    (reset_link,) = [
        link for link in links_in(last_mail_to(folder / "instance" / "outbox", EMAIL)) if "/reset/" in link
    ]
    return {"choosing_id": str(choosing.connection.id), "reset_token": reset_link.rsplit("/", 1)[1]}


def _delivery_state(live: Live) -> DeliveryState | None:
    with live.container.gateways.unit_of_work() as uow:
        delivery = uow.webhook_deliveries.get(1)
    return None if delivery is None else delivery.state


def _problems_on(page: Any) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => ({
                scrollWidth: document.documentElement.scrollWidth,
                innerWidth: window.innerWidth,
                clippedCells: Array.from(document.querySelectorAll("td, th"))
                    .filter(cell => cell.scrollWidth > cell.clientWidth)
                    .map(cell => cell.innerText.trim().slice(0, 60)),
            })"""
        )
    )


def _axe_violations(page: Any) -> list[dict[str, Any]]:
    return list(
        page.evaluate(
            """async () => {
                const results = await axe.run(document, {resultTypes: ["violations"]});
                return results.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
                }));
            }"""
        )
    )


@pytest.mark.parametrize("width", WIDTHS, ids=list(WIDTHS))
@pytest.mark.parametrize("shown", PAGES, ids=[p.name for p in PAGES])
def test_the_page_fits_the_window_and_passes_axe(browser: Any, world: World, shown: Shown, width: str) -> None:
    live = world.live
    context = browser.new_context(user_agent=DESKTOP_UA, viewport=WIDTHS[width], base_url=live.base_url)
    context.add_init_script(path=str(AXE))
    if shown.signed_in:
        context.add_cookies([{"name": "session", "value": live.session_cookie(shown.who), "url": live.base_url}])
    page = context.new_page()
    csp_violations: list[str] = []
    page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        response = page.goto(shown.path.format(**world.values))
        assert response is not None
        assert response.status == shown.status
        if shown.then is not None:
            shown.then(page, world)
        problems = _problems_on(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"page-{shown.name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot: {shot}")
        violations = _axe_violations(page)
    finally:
        context.close()

    for violation in violations:
        print(f"axe {violation['impact']}: {violation['id']} ({violation['help']}) at {violation['nodes']}")
    assert problems["scrollWidth"] <= problems["innerWidth"], f"{problems['scrollWidth']} px wide at {width}"
    assert problems["clippedCells"] == [], "table cells cut their text"
    assert [v["id"] for v in violations if v["impact"] in FAILING_IMPACTS] == []
    assert csp_violations == []


def _phone(browser: Any, world: World, **options: Any) -> Any:
    context = browser.new_context(
        user_agent=DESKTOP_UA, viewport=WIDTHS["375px"], base_url=world.live.base_url, **options
    )
    context.add_cookies([{"name": "session", "value": world.live.session_cookie(EMAIL), "url": world.live.base_url}])
    return context


def test_escape_or_a_click_elsewhere_closes_the_phone_menu(browser: Any, world: World) -> None:
    context = _phone(browser, world)
    page = context.new_page()
    try:
        page.goto("/connections/")
        button = page.get_by_role("button", name="Menu")
        billing = page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing")
        button.click()
        expect(billing).to_be_visible()
        billing.focus()
        page.keyboard.press("Escape")
        expect(button).to_have_attribute("aria-expanded", "false")
        expect(billing).to_be_hidden()
        expect(button).to_be_focused()
        button.click()
        expect(billing).to_be_visible()
        page.locator("main h1").click()
        expect(billing).to_be_hidden()
    finally:
        context.close()


def test_with_scripts_off_the_phone_menu_is_shown_open(browser: Any, world: World) -> None:
    context = _phone(browser, world, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/connections/")
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Billing")).to_be_visible()
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    finally:
        context.close()
