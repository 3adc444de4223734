"""The shell around every page: the front page at `/`, the favicon, the one menu and the section tabs, and the
words creators read on the shared pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.web.privacy import readable_duration
from tests.conftest import sign_in

BROWSER = {"Accept": "text/html", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130 Safari/537.36"}
MENU = ["Dashboard", "Purchases", "Connections", "Tracking", "Billing", "Settings"]


def _menu(page: str) -> list[tuple[str, str, bool]]:
    nav = page[page.index('<nav class="menu"') : page.index("</nav>", page.index('<nav class="menu"'))]
    return [
        (label, href, "aria-current" in attributes)
        for href, attributes, label in re.findall(r'<li><a href="([^"]+)"([^>]*)>([^<]+)</a></li>', nav)
    ]


def test_the_front_page_says_what_coursesignal_does_and_offers_sign_up_and_sign_in(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/", headers=BROWSER)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Know which channel sells your courses" in page
    assert 'href="/signup"' in page
    assert 'href="/login"' in page
    assert "$99 a month" in page
    assert "14-day free trial" in page
    assert '<nav class="menu"' not in page  # no product menu before signing in


def test_signed_in_the_front_page_is_the_dashboard(client, container) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, container)
    response = client.get("/", headers=BROWSER)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"


def test_the_favicon_is_a_self_hosted_svg_linked_from_every_page(client) -> None:  # type: ignore[no-untyped-def]
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in client.get("/login").get_data(
        as_text=True
    )
    old_name = client.get("/favicon.ico")
    assert old_name.status_code == 301
    assert old_name.headers["Location"] == "/static/favicon.svg"
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml"
    assert icon.get_data(as_text=True).startswith("<svg")


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/dashboard", "Dashboard"),
        ("/connections/", "Connections"),
        ("/connections/new/kajabi", "Connections"),
        ("/sites/", "Tracking"),
        ("/onboarding/snippet", "Tracking"),
        ("/billing", "Billing"),
        ("/account", "Settings"),
        ("/privacy/", "Settings"),
        ("/no-such-page", None),
    ],
)
def test_every_page_carries_the_one_menu_with_its_section_marked(client, container, path, current) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, container)
    page = client.get(path, headers=BROWSER).get_data(as_text=True)
    menu = _menu(page)
    assert [label for label, _, _ in menu] == MENU
    assert {label: href for label, href, _ in menu} == {
        "Dashboard": "/dashboard",
        "Purchases": "/purchases",
        "Connections": "/connections/",
        "Tracking": "/sites/",
        "Billing": "/billing",
        "Settings": "/account",
    }
    assert [label for label, _, marked in menu if marked] == ([current] if current else [])
    assert 'action="/logout"' in page


def test_a_purchase_belongs_to_purchases_not_to_the_dashboard(app) -> None:  # type: ignore[no-untyped-def]
    from adapters.web.navigation import main_menu

    with app.test_request_context("/dashboard/purchases/7"):
        assert [link.label for link in main_menu() if link.current] == ["Purchases"]
    with app.test_request_context("/purchases"):
        assert [link.label for link in main_menu() if link.current] == ["Purchases"]
    with app.test_request_context("/dashboard/sources/YouTube"):
        assert [link.label for link in main_menu() if link.current] == ["Dashboard"]


def test_sections_with_several_pages_show_their_tabs(client, container) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, container)
    privacy = client.get("/privacy/", headers=BROWSER).get_data(as_text=True)
    assert '<a href="/account">Account</a>' in privacy
    assert '<a href="/privacy/" aria-current="page">Privacy</a>' in privacy
    sites = client.get("/sites/", headers=BROWSER).get_data(as_text=True)
    assert '<a href="/sites/" aria-current="page">Your sites</a>' in sites
    assert '<a href="/onboarding/snippet">Tracking snippet</a>' in sites
    assert 'class="tabs section-tabs"' not in client.get("/connections/", headers=BROWSER).get_data(as_text=True)


def test_the_privacy_page_speaks_to_creators(client, container) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, container)
    page = client.get("/privacy/", headers=BROWSER).get_data(as_text=True)
    assert "Raw visit events\n    are kept for 2 years" in page
    assert "761" not in page
    assert "docs/privacy.md" not in page


def test_the_privacy_page_offers_policy_texts_filled_in_for_the_creators_site(client, container) -> None:  # type: ignore[no-untyped-def]
    account_id = sign_in(client, container)
    email = container.services.accounts().get(account_id).email
    site = container.services.accounts().add_site(email, ["academy.example.com"])
    page = client.get("/privacy/", headers=BROWSER).get_data(as_text=True)
    policy = page[page.index('id="policy-title"') : page.index("Export a student's data")]
    assert "When you visit academy.example.com, a small script" in " ".join(policy.split())
    assert policy.count(f"http://coursesignal.test/privacy/optout/{site.public_key}") == 2
    assert "deleted after\n      2 years" in policy


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (761, "2 years"),
        (730, "2 years"),
        (365, "1 year"),
        (545, "18 months"),
        (90, "3 months"),
        (30, "30 days"),
        (1, "1 day"),
    ],
)
def test_retention_reads_as_a_creator_says_it(days: int, words: str) -> None:
    assert readable_duration(days) == words


def test_the_setup_wizard_carries_no_operator_notes(client, container) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, container)
    page = client.get("/onboarding/platform", headers=BROWSER).get_data(as_text=True)
    assert "installed" not in page


def test_every_page_the_app_renders_is_on_the_one_layout() -> None:
    """Each template a view renders as a page extends base.html (its menu, styles and favicon)."""
    web = Path(__file__).resolve().parents[2] / "adapters" / "web"
    rendered = {
        name
        for module in web.glob("*.py")
        for name in re.findall(r'render_template\(\s*"([^"]+\.html)"', module.read_text())
        + re.findall(r'_render\(\s*"([^"]+\.html)"', module.read_text())
    }
    assert {"home/index.html", "billing/billing.html", "connections/connect.html", "error.html"} <= rendered
    off_layout = [
        name for name in sorted(rendered) if '{% extends "base.html" %}' not in (web / "templates" / name).read_text()
    ]
    assert off_layout == []
