"""The site settings page: the creator's other domains and Global Privacy Control, in the snippet and applied
by the collect path (referrer exclusion, GPC)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from adapters.persistence import tables
from tests.conftest import sign_in
from tests.web_session import post_form

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"}


@pytest.fixture
def site(client, container):  # type: ignore[no-untyped-def]
    sign_in(client, container, "creator@example.com")
    return container.services.accounts().add_site("creator@example.com", ["example.com"])


def _stored_site(container, site_id: int):  # type: ignore[no-untyped-def]
    with container.gateways.engine().connect() as connection:
        return connection.execute(select(tables.sites).where(tables.sites.c.id == site_id)).one()


def test_the_creator_sets_other_domains_and_gpc_and_gets_the_matching_snippet(client, container, site) -> None:  # type: ignore[no-untyped-def]
    path = f"/sites/{site.id}/settings"
    page = client.get(path).get_data(as_text=True)
    assert "example.com" in page
    assert f"data-site=&#34;{site.public_key}&#34;" in page
    assert "data-domains" not in page

    response = post_form(
        client, path, {"domains": "example.com\nhttps://www.School.example/courses\n\nexample.com", "respect_gpc": "y"}
    )
    assert response.status_code == 302
    stored = _stored_site(container, site.id)
    assert (stored.allowed_domains, stored.respect_gpc) == (["example.com", "school.example"], True)
    page = client.get(path).get_data(as_text=True)
    assert "data-domains=&#34;example.com,school.example&#34;" in page
    assert "data-respect-gpc=&#34;1&#34;" in page
    assert "Replace the snippet on your pages" in page
    assert site.public_key in client.get("/sites/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("domains", "problem"),
    [
        ("example.com\nnot a domain", "“not a domain” is not a domain name."),
        ("localhost", "“localhost” is not a domain name."),
        ("", "Enter at least your website"),
        ("\n".join(f"d{n}.example" for n in range(21)), "at most 20 domains"),
    ],
)
def test_bad_domains_are_refused_with_a_sentence_and_nothing_changes(client, container, site, domains, problem) -> None:  # type: ignore[no-untyped-def]
    response = post_form(client, f"/sites/{site.id}/settings", {"domains": domains})
    assert response.status_code == 200
    assert problem in response.get_data(as_text=True)
    assert _stored_site(container, site.id).allowed_domains == ["example.com"]


def test_the_settings_form_needs_its_csrf_token(client, container, site) -> None:  # type: ignore[no-untyped-def]
    response = client.post(f"/sites/{site.id}/settings", data={"domains": "evil.example", "respect_gpc": "y"})
    assert response.status_code == 400
    assert _stored_site(container, site.id).allowed_domains == ["example.com"]
    assert _stored_site(container, site.id).respect_gpc is False


def test_another_accounts_site_is_not_found(client, container, site) -> None:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("other@example.com")
    theirs = accounts.add_site("other@example.com", ["other.example"])
    path = f"/sites/{theirs.id}/settings"
    assert client.get(path).status_code == 404
    assert (
        post_form(client, path, {"domains": "mine.example"}, form_page=f"/sites/{site.id}/settings").status_code == 404
    )
    assert client.get("/sites/999999/settings").status_code == 404
    assert _stored_site(container, theirs.id).allowed_domains == ["other.example"]
    assert theirs.public_key not in client.get("/sites/").get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_log_in(client, container, site) -> None:  # type: ignore[no-untyped-def]
    client.post("/logout", data={})
    fresh = client.application.test_client()
    assert fresh.get(f"/sites/{site.id}/settings").status_code == 302


def _land(client, container, site_key: str, event_id: str, visitor: str, referrer: str, headers=None, page="/") -> int:  # type: ignore[no-untyped-def]
    url = f"https://example.com{page}"
    body = {"s": site_key, "n": "pageview", "i": event_id, "v": visitor, "u": url, "r": referrer}
    status = client.post("/t/e", data=json.dumps(body), headers={**BROWSER, **(headers or {})}).status_code
    container.gateways.job_queue().wait_until_idle()
    return int(status)


def _sources(container) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with container.gateways.engine().connect() as connection:
        rows = connection.execute(
            select(tables.visitors.c.visitor_key, tables.sessions.c.source).join(
                tables.sessions, tables.sessions.c.visitor_id == tables.visitors.c.id
            )
        )
        return {row.visitor_key: row.source for row in rows}


def test_a_domain_set_in_the_app_is_no_longer_a_source_for_the_collect_path(client, container, site) -> None:  # type: ignore[no-untyped-def]
    assert _land(client, container, site.public_key, "event0001", "visitor01", "https://school.example/lesson") == 204
    assert (
        post_form(client, f"/sites/{site.id}/settings", {"domains": "example.com\nschool.example"}).status_code == 302
    )
    # The pipeline reads the site's domains as it processes events: no cache stands in between.
    assert _land(client, container, site.public_key, "event0002", "visitor02", "https://school.example/lesson") == 204
    assert _land(client, container, site.public_key, "event0003", "visitor03", "https://www.example.com/") == 204
    sources = _sources(container)
    assert sources["visitor01"] == "school.example"
    assert sources["visitor02"] == "Direct"
    assert sources["visitor03"] == "Direct"


def test_a_site_that_respects_gpc_drops_browsers_sending_it(client, container, site) -> None:  # type: ignore[no-untyped-def]
    assert (
        post_form(client, f"/sites/{site.id}/settings", {"domains": "example.com", "respect_gpc": "y"}).status_code
        == 302
    )
    assert _land(client, container, site.public_key, "event0001", "visitor01", "", {"Sec-GPC": "1"}) == 204
    assert _land(client, container, site.public_key, "event0002", "visitor02", "", {"DNT": "1"}) == 204
    assert _land(client, container, site.public_key, "event0003", "visitor03", "") == 204
    assert set(_sources(container)) == {"visitor03"}
    assert container.services.tracking().dropped_counts() == {"opted_out": 2}


def test_the_creators_own_checkout_paths_go_in_the_snippet_and_their_page_views_reach_checkout(
    client, container, site
) -> None:  # type: ignore[no-untyped-def]
    path = f"/sites/{site.id}/settings"
    refused = post_form(client, path, {"domains": "example.com", "checkout_paths": "order-now"})
    assert "“order-now” is not the start of a path." in refused.get_data(as_text=True)
    assert post_form(client, path, {"domains": "example.com", "checkout_paths": "/Order-Now\n/buy"}).status_code == 302
    assert _stored_site(container, site.id).checkout_paths == ["/order-now", "/buy"]
    assert "data-checkout=&#34;/order-now,/buy&#34;" in client.get(path).get_data(as_text=True)

    assert _land(client, container, site.public_key, "event0001", "visitor01", "", page="/order-now/step-1") == 204
    assert _land(client, container, site.public_key, "event0002", "visitor02", "", page="/order") == 204
    with container.gateways.engine().connect() as connection:
        reached = connection.execute(
            select(tables.visitors.c.visitor_key).join(
                tables.checkout_reaches, tables.checkout_reaches.c.visitor_id == tables.visitors.c.id
            )
        )
        assert [row.visitor_key for row in reached] == ["visitor01"]
