"""The creator's flows that matter most, run in Chromium, Firefox ESR and WebKitGTK alike: sign up and
confirm by the mailed link, connect Kajabi and Teachable through their forms, the dashboard at 375 px and
1280 px with nothing wider than the window and no table cell cutting its text, and the CSV download.

The flows are written once against the driver interface of tests/e2e/engines/drivers.py (the tracker's case
table uses it too); one live app for the module (with the fake Kajabi, the fake Teachable and the fake SMTP
server), one browser per engine for the module. A failure is reported as e.g.
`test_sign_up_and_confirm[webkit]`, and its message starts with the engine's name (tests/e2e/conftest.py).
Skips with a reason when an engine is missing, except with CI=true.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dependency_injector import providers

import plugins.teachable as teachable_plugin
from tests.e2e.engines.drivers import ENGINES, Driver, launch, wait_until, wait_url
from tests.e2e.test_dashboard import CLIPPED_CELLS, NO_VALUE
from tests.fakes.kajabi import FakeKajabi
from tests.fakes.smtp_server import Inbox, smtp_server
from tests.fakes.teachable import FakeTeachable
from tests.integration.test_reports_api import NOW, build_world
from tests.live_app import Live, serve_app
from tests.unit.fakes import FixedClock
from tests.web_session import links_in

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("creator-flows-engines")]

CREATOR = "creator@example.com"  # the reports fixture's creator
WIDTHS = {"phone": (375, 812), "laptop": (1280, 900)}
DASHBOARD_PAGES = ("/dashboard?range=7d", "/dashboard/sources/YouTube", "/purchases")
# How long a step may take: a form that asks the fake Kajabi, on a loaded 2-core machine, can take seconds.
STEP = 15.0

CSV_HEADER = ["Source", "Visitors", "Revenue", "Students", "Conversion %", "Avg Order Value", "Revenue/Visitor"]


def csv_beside_table(lines: list[list[str]], table: list[list[str]]) -> tuple[list[list[str]], list[list[str]]]:
    """The sources CSV's lines written as the table shows them, beside the table's rows (each cell's text,
    its whitespace collapsed) with the source's name alone: equal when the CSV is the table."""

    def as_table(line: list[str]) -> list[str]:
        label, visitors, revenue, students, rate, aov, rpv = line
        if label == "Unmatched":
            return [label, NO_VALUE, f"${revenue}", "1 purchase"]
        money = [f"${v}" if v else NO_VALUE for v in (revenue, aov, rpv)]
        percent = f"{float(rate):.1f}%" if rate else NO_VALUE
        return [label, visitors, money[0], students, percent, money[1], money[2]]

    # The table shows a source's channel under its name; the CSV has the name alone.
    return [as_table(line) for line in lines], [[row[0].split(" ")[0], *row[1:]] for row in table]


@dataclass(frozen=True)
class World:
    live: Live  # with the fake Kajabi (live.fake)
    teachable: FakeTeachable
    inbox: Inbox
    kajabi_site: str  # the fake Kajabi's site a creator connects


@pytest.fixture(scope="module")
def world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("creator-flows")
    shutil.copy(sqlite_template, folder / "coursesignal.db")
    url = f"sqlite:///{folder / 'coursesignal.db'}"
    with (
        smtp_server() as (inbox, smtp_port),
        FakeKajabi() as fake,
        FakeTeachable() as teachable,
        serve_app(
            url,
            folder,
            fake,
            smtp_url=f"smtp://127.0.0.1:{smtp_port}",
            plugins=(teachable_plugin,),
            api_urls={"teachable": teachable.api_url},
        ) as live,
    ):
        build_world(live.container)
        # Before any request: the reports are built with the fixture's "now".
        live.container.gateways.clock.override(providers.Object(FixedClock(NOW)))
        academy = fake.add_site("Mindful Money Academy")
        fake.add_site("Side Project")
        fake.seed_random(30, seed=5)
        teachable.seed_random(12, seed=5)
        yield World(live, teachable, inbox, str(academy.id))


@pytest.fixture(scope="module", params=ENGINES)
def driver(request: pytest.FixtureRequest, world: World) -> Iterator[Driver]:
    with launch(request.param, request, [world.live.base_url]) as engine:
        yield engine


@pytest.fixture
def d(driver: Driver) -> Driver:
    """The engine on a clean profile."""
    driver.fresh()
    return driver


def shows(d: Driver, css: str, text: str, timeout: float = STEP) -> None:
    """Wait until the first element matching `css` contains `text`."""
    wait_until(
        d, f"(document.querySelector({json.dumps(css)})?.textContent ?? '').includes({json.dumps(text)})", timeout
    )


def signed_in(d: Driver, world: World, email: str) -> None:
    d.set_cookie(world.live.base_url, "session", world.live.session_cookie(email))


def layout(d: Driver) -> dict[str, object]:
    return dict(
        d.eval(
            f"""{{innerWidth: window.innerWidth,
                 scrollWidth: document.documentElement.scrollWidth,
                 clippedCells: {CLIPPED_CELLS}}}"""
        )
    )


def test_sign_up_and_confirm(d: Driver, world: World) -> None:
    base, email = world.live.base_url, f"{d.engine}-signup@example.com"
    mails_before = len(world.inbox.messages)
    d.resize(*WIDTHS["phone"])
    d.goto(f"{base}/signup")
    d.type("#email", email)
    d.type("#password", "five quiet lanterns drifting")
    d.click("form button[type=submit]")
    wait_url(d, lambda url: url.endswith("/signup/check-inbox"), STEP)
    shows(d, "h1", "Check your inbox")
    assert d.eval("document.documentElement.scrollWidth") <= 375

    (mail,) = [m for m in world.inbox.wait_for(mails_before + 1) if m["To"] == email]
    d.goto(links_in(mail)[0])
    shows(d, "main", "14-day free trial has started")
    assert d.eval("document.documentElement.scrollWidth") <= 375


def connect_through_the_form(
    d: Driver, world: World, platform: str, kept: dict[str, str], secret: tuple[str, str], refusal: str
) -> None:
    """A signed-in creator's platform form: the fields in `kept` and a wrong secret are refused, what was typed
    stays but the secret is never written back into the page; then the right secret is sent."""
    d.goto(f"{world.live.base_url}/connections/new/{platform}")
    for name, value in kept.items():
        d.type(f"#field-{name}", value)
    name, value = secret
    d.type(f"#field-{name}", "not-the-secret")
    d.click(".connect-form button[type=submit]")
    shows(d, ".form-error", refusal)
    for kept_name, kept_value in kept.items():
        assert d.eval(f"document.querySelector('#field-{kept_name}').value") == kept_value
    assert d.eval(f"document.querySelector('#field-{name}').value") == ""
    d.type(f"#field-{name}", value)
    d.click(".connect-form button[type=submit]")


def test_connect_kajabi_through_its_form(d: Driver, world: World) -> None:
    kajabi = world.live.fake
    signed_in(d, world, f"{d.engine}-kajabi@example.com")
    refusal = "did not accept this client ID and secret"
    connect_through_the_form(
        d, world, "kajabi", {"client_id": kajabi.client_id}, ("client_secret", kajabi.client_secret), refusal
    )
    wait_url(d, lambda url: re.search(r"/connections/\d+/choose$", url) is not None, STEP)
    d.click(f"input[value='{world.kajabi_site}']")
    d.click(".choices + button[type=submit]")
    wait_url(d, lambda url: re.search(r"/connections/\d+$", url) is not None, STEP)
    shows(d, "#connection-status", "Connected", timeout=2 * STEP)
    shows(d, "#connection-synced", "30 purchases in the last full sync")


def test_connect_teachable_through_its_form(d: Driver, world: World) -> None:
    signed_in(d, world, f"{d.engine}-teachable@example.com")
    refusal = "Teachable refused this API key"
    connect_through_the_form(d, world, "teachable", {}, ("api_key", world.teachable.api_key), refusal)
    wait_url(d, lambda url: re.search(r"/connections/\d+$", url) is not None, STEP)
    shows(d, "#connection-status", "Connected", timeout=2 * STEP)
    shows(d, "#connection-synced", "12 purchases in the last full sync")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_dashboard_fits_the_window(d: Driver, world: World, width: str) -> None:
    signed_in(d, world, CREATOR)
    d.resize(*WIDTHS[width])
    for path in DASHBOARD_PAGES:
        d.goto(world.live.base_url + path)
        shows(d, "main", "$")
        seen = layout(d)
        assert seen["innerWidth"] == WIDTHS[width][0], f"the window is {seen['innerWidth']} px wide"
        assert seen["scrollWidth"] <= seen["innerWidth"], f"{path} is {seen['scrollWidth']} px wide at {width}"
        assert seen["clippedCells"] == [], f"table cells of {path} cut their text at {width}"


def test_the_csv_download_is_the_table(d: Driver, world: World) -> None:
    signed_in(d, world, CREATOR)
    d.resize(*WIDTHS["laptop"])
    d.goto(f"{world.live.base_url}/dashboard?range=7d&model=last_touch")
    table = d.eval(
        """[...document.querySelectorAll('table.report-table tbody tr')].map(row =>
             [...row.querySelectorAll('th, td')].map(cell => cell.innerText.split(/\\s+/).join(' ').trim()))"""
    )
    saved = d.download("a.csv")
    assert saved.name == "coursesignal-sources-source-7d-last_touch-USD-2026-11-20.csv"
    with saved.open(newline="") as file:
        header, *lines = list(csv.reader(file))
    assert header == CSV_HEADER
    from_csv, shown = csv_beside_table(lines, table)
    assert from_csv == shown
    assert len(lines) == 5
