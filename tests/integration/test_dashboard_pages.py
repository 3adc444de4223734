"""The dashboard pages, rendered from the same fixture as the API tests."""

from __future__ import annotations

import re

import pytest

from tests.conftest import sign_in
from tests.integration.test_reports_api import world  # noqa: F401 - the fixture


@pytest.fixture
def signed_in(client, container, world):  # type: ignore[no-untyped-def]  # noqa: F811
    sign_in(client, container)
    return client


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_overview_shows_the_summary_the_table_and_the_chart(signed_in) -> None:  # type: ignore[no-untyped-def]
    response = signed_in.get("/dashboard?range=7d&model=first_touch")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    page = text(html)
    assert "$185.00" in page  # revenue
    assert "▲ 85.0%" in page
    assert "75.0%" in page  # match rate
    assert "Google Organic Search 1 $85.00 1 100.0% $42.50 $85.00" in page
    assert "YouTube Organic Video 2 $80.00 1 50.0% $80.00 $40.00" in page
    assert "Unmatched \N{EN DASH} $20.00 1 purchase" in page
    assert "<svg" in html
    assert "<script>" not in html
    assert " style=" not in html
    assert 'href="/dashboard/sources/YouTube?model=first_touch&amp;range=7d"' in html
    assert "/api/v1/reports/sources.csv?range=7d&amp;model=first_touch&amp;group=source&amp;sort=-revenue" in html
    assert 'aria-sort="descending"' in html
    assert "/static/dashboard/live.js" in html
    assert signed_in.get("/static/dashboard/live.js").status_code == 200


def test_sort_and_switch_links_keep_the_other_choices(signed_in) -> None:  # type: ignore[no-untyped-def]
    html = signed_in.get("/dashboard?range=7d&model=last_touch&sort=visitors").get_data(as_text=True)
    assert 'href="/dashboard?range=7d&amp;model=last_touch&amp;sort=-visitors"' in html  # flips the active one
    assert 'href="/dashboard?range=30d&amp;model=last_touch&amp;sort=visitors"' in html
    rows = re.findall(r'<th scope="row" class="name">(?:<a [^>]+>)?([^<\n]+)', html)
    assert [r.strip() for r in rows][:4] == ["Google", "Instagram", "Direct", "YouTube"]
    campaigns = text(signed_in.get("/dashboard?range=7d&group=campaign").get_data(as_text=True))
    assert "(no campaign) 2 $85.00" in campaigns


def test_drill_down_and_purchase_pages(signed_in) -> None:  # type: ignore[no-untyped-def]
    page = text(signed_in.get("/dashboard/sources/YouTube?range=7d").get_data(as_text=True))
    assert "launch 1 $80.00 1 100.0%" in page
    assert "https://example.com/free 1 $0.00" in page
    html = signed_in.get("/dashboard/sources/YouTube?range=7d").get_data(as_text=True)
    purchase_id = re.search(r'href="/dashboard/purchases/(\d+)"', html).group(1)  # type: ignore[union-attr]
    detail = text(signed_in.get(f"/dashboard/purchases/{purchase_id}").get_data(as_text=True))
    assert "$80.00" in detail
    assert "by the email the buyer gave on a visit" in detail
    assert "Confidence 95%" in detail
    assert detail.index("YouTube (Organic Video)") < detail.index("Instagram (Organic Social)")
    assert signed_in.get("/dashboard/sources/TikTok").status_code == 404
    assert signed_in.get("/dashboard/purchases/999999").status_code == 404


def test_the_dashboard_needs_a_signed_in_creator(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/dashboard")
    assert (page.status_code, page.headers["Location"]) == (302, "/login?next=%2Fdashboard")
