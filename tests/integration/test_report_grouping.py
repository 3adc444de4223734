"""One row per source when grouped by source, one per channel by channel; the summary's top source and its
"no earlier period" wording; on SQLite and PostgreSQL.

A source reached through two channels (YouTube as Organic Video from a video link and as Organic Social from
a community post) is the question "how much did YouTube make": one row, its figures added up.
"""

from __future__ import annotations

import re

import pytest
from dependency_injector import providers

from core.domain.money import Money
from core.domain.purchases import PurchaseRecord
from tests.conftest import sign_in
from tests.integration.test_reports_api import NOW, Fixture, at, world  # noqa: F401 - the fixture
from tests.unit.fakes import FixedClock

EMAIL = "creator@example.com"


@pytest.fixture
def youtube_world(container):  # type: ignore[no-untyped-def]
    f = Fixture(container)
    account, site, token = f.creator(EMAIL, "example.com")
    video = "https://example.com/course?utm_source=youtube&utm_medium=video"
    post = "https://example.com/course?utm_source=youtube&utm_medium=social"
    f.event(site, "visitor-v", at(15), video)
    f.identify(site, "visitor-v", at(15, 11), "v@example.com")
    f.event(site, "visitor-s", at(16), post)
    f.identify(site, "visitor-s", at(16, 11), "s@example.com")
    f.event(site, "visitor-t", at(17), post)
    f.event(site, "visitor-g", at(17), "https://example.com/", "https://www.google.com/")
    f.identify(site, "visitor-g", at(17, 11), "g@example.com")
    container.gateways.job_queue().wait_until_idle()

    def bought(pid: str, email: str, cents: int, day: int) -> PurchaseRecord:
        return PurchaseRecord("csv", pid, Money(cents, "USD"), at(day, 12), email=email, course_name="Course")

    container.services.purchases().ingest(
        account,
        [
            bought("v-1", "v@example.com", 10000, 15),
            bought("s-1", "s@example.com", 5000, 16),
            bought("s-2", "s@example.com", 2500, 18),
            bought("g-1", "g@example.com", 4000, 17),
        ],
    )
    container.gateways.clock.override(providers.Object(FixedClock(NOW)))
    yield token
    container.gateways.clock.reset_override()


def _rows(client, token: str, query: str) -> list[tuple]:  # type: ignore[no-untyped-def, type-arg]
    body = client.get(f"/api/v1/reports/sources?{query}", headers={"Authorization": f"Bearer {token}"}).json
    return [
        (r["source"], r["channel"], r["visitors"], r["revenue"], r["students"], r["purchases"]) for r in body["rows"]
    ]


def test_grouped_by_source_a_source_is_one_row_whatever_its_channels(client, youtube_world) -> None:  # type: ignore[no-untyped-def]
    assert _rows(client, youtube_world, "range=7d&model=first_touch&group=source") == [
        # 100.00 + 50.00 + 25.00, two buyers (one bought twice), three visitors over two channels;
        # shown under the channel that brought most of its visitors.
        ("YouTube", "Organic Social", 3, 17500, 2, 3),
        ("Google", "Organic Search", 1, 4000, 1, 1),
    ]
    assert _rows(client, youtube_world, "range=7d&model=first_touch&group=channel") == [
        ("Organic Video", "Organic Video", 1, 10000, 1, 1),
        ("Organic Social", "Organic Social", 2, 7500, 1, 2),
        ("Organic Search", "Organic Search", 1, 4000, 1, 1),
    ]
    csv = client.get(
        "/api/v1/reports/sources.csv?range=7d", headers={"Authorization": f"Bearer {youtube_world}"}
    ).get_data(as_text=True)
    assert csv.splitlines()[1:] == ["YouTube,3,175.00,2,66.67,58.33,58.33", "Google,1,40.00,1,100.00,40.00,40.00"]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_summary_names_the_top_source_and_its_share(client, container, youtube_world) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, container, EMAIL)
    page = _text(client.get("/dashboard?range=7d").get_data(as_text=True))
    assert "Top source YouTube $175.00, 81.4% of revenue" in page  # 175 of 215
    assert page.count("YouTube") >= 2
    # The top source is the top source by revenue, whatever the rows are grouped by.
    by_channel = _text(client.get("/dashboard?range=7d&group=channel").get_data(as_text=True))
    assert "Top source YouTube $175.00, 81.4% of revenue" in by_channel
    # Nothing was sold in Nov 7-13, and all time has nothing before it: nothing to compare with.
    assert "No earlier period to compare" in page
    assert "No earlier period to compare" in _text(client.get("/dashboard?range=all").get_data(as_text=True))


def test_a_new_account_has_no_top_source_yet(client, container) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, container, EMAIL)
    page = _text(client.get("/dashboard").get_data(as_text=True))
    assert "Top source \N{EN DASH} no credited revenue in this range" in page
    assert "No earlier period to compare" in page


# --- a custom from-to range, on the hand-computed fixture of test_reports_api ---------------------------------

CUSTOM = "range=custom&from=2026-11-15&to=2026-11-18"


def _get(client, data, url: str):  # type: ignore[no-untyped-def]
    return client.get(url, headers={"Authorization": f"Bearer {data['token']}"})


def test_a_custom_range_in_the_api(client, world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    body = _get(client, world, f"/api/v1/reports/sources?{CUSTOM}").json
    assert (body["range"], body["from"], body["to"]) == ("custom", "2026-11-15", "2026-11-18")
    # Nov 15-18: A (YouTube, Nov 15) and C (YouTube, Nov 17) arrive, B (Google, Nov 16); A's 100.00 less the
    # 20.00 refund on Nov 18, B's 50.00 on Nov 16. D (Nov 10), E and every Nov 19 purchase fall outside.
    assert [(r["source"], r["visitors"], r["revenue"], r["students"]) for r in body["rows"]] == [
        ("YouTube", 2, 8000, 1),
        ("Google", 1, 5000, 1),
    ]
    assert body["unmatched"] == {"revenue": 0, "purchases": 0}
    summary = _get(client, world, "/api/v1/reports/summary?range=custom&from=2026-11-18&to=2026-11-15").json
    assert (summary["from"], summary["to"], summary["revenue"], summary["purchases"]) == (
        "2026-11-15",
        "2026-11-18",
        13000,
        2,
    )
    assert (summary["since"], summary["until"]) == ("2026-11-15T00:00:00Z", "2026-11-19T00:00:00Z")
    assert [(d["date"], d["revenue"]) for d in summary["daily"]] == [
        ("2026-11-15", 0),
        ("2026-11-16", 5000),
        ("2026-11-17", 0),
        ("2026-11-18", 8000),
    ]
    assert (summary["previous_revenue"], summary["trend_percent"]) == (0, None)  # Nov 11-14 sold nothing
    # A range reaching past today stops at now.
    later = _get(client, world, "/api/v1/reports/summary?range=custom&from=2026-11-19&to=2026-11-30").json
    assert [d["date"] for d in later["daily"]] == ["2026-11-19", "2026-11-20"]
    assert later["until"] == "2026-11-20T12:00:00Z"
    csv = _get(client, world, f"/api/v1/reports/sources.csv?{CUSTOM}")
    assert "sources-source-2026_11_15_2026_11_18-first_touch-USD" in csv.headers["Content-Disposition"]
    assert csv.get_data(as_text=True).splitlines()[1:] == [
        "YouTube,2,80.00,1,50.00,80.00,40.00",
        "Google,1,50.00,1,100.00,50.00,50.00",
    ]
    detail = _get(client, world, f"/api/v1/reports/sources/YouTube?{CUSTOM}").json
    assert [(m["name"], m["visitors"], m["revenue"]) for m in detail["mediums"]] == [("video", 2, 8000)]


def test_a_custom_range_missing_an_end_or_too_long_is_read_generously(client, world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    def named(query: str) -> tuple[str, str | None, str | None]:
        body = _get(client, world, f"/api/v1/reports/summary?{query}").json
        return body["range"], body.get("from"), body.get("to")

    assert named("range=custom&from=2026-11-01") == ("custom", "2026-11-01", "2026-11-30")  # 30 days from it
    assert named("range=custom&to=2026-11-18") == ("custom", "2026-10-20", "2026-11-18")  # 30 days up to it
    assert named("range=custom") == ("30d", None, None)
    assert named("range=custom&from=2000-01-01&to=2026-11-15") == (
        "custom",
        "2016-11-08",
        "2026-11-15",
    )  # its last 3660 days
    assert named("range=custom&from=0001-01-01&to=0001-01-02") == ("custom", "0001-01-01", "0001-01-02")


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("range=custom&from=yesterday&to=2026-11-15", "from and to are days written YYYY-MM-DD"),
        ("range=custom&from=2026-02-30", "from and to are days written YYYY-MM-DD"),
        # Python reads these as dates too; the document's format (date) and a reader of the address do not.
        ("range=custom&from=20261101", "from and to are days written YYYY-MM-DD"),
        ("range=custom&to=2026-W44-1", "from and to are days written YYYY-MM-DD"),
        ("range=1y", "range must be one of 7d, 30d, 90d, all, custom"),
    ],
)
def test_a_range_that_cannot_be_read_is_refused(client, world, query: str, error: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    response = _get(client, world, f"/api/v1/reports/sources?{query}")
    assert response.status_code == 400
    assert error in response.json["error"]


def test_a_custom_range_on_the_dashboard(client, container, world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    sign_in(client, container, EMAIL)
    html = client.get(f"/dashboard?{CUSTOM}&model=first_touch").get_data(as_text=True)
    page = _text(html)
    assert "Top source YouTube $80.00, 61.5% of revenue" in page  # 80 of 130
    assert "No earlier period to compare" in page
    assert 'name="from" required value="2026-11-15"' in html
    assert 'class="custom-range active"' in html
    assert (
        'href="/dashboard/sources/YouTube?model=first_touch&amp;range=custom&amp;from=2026-11-15&amp;to=2026-11-18"'
        in html
    )
    assert "/api/v1/reports/sources.csv?range=custom&amp;from=2026-11-15&amp;to=2026-11-18&amp;" in html
    assert 'aria-current="true">30 days' not in html  # no preset is the current one
    assert 'href="/dashboard?range=7d&amp;model=first_touch"' in html  # a preset drops from and to
    drill = _text(client.get(f"/dashboard/sources/YouTube?{CUSTOM}").get_data(as_text=True))
    assert "video 2 $80.00" in drill
    assert "30 days" in _text(client.get("/dashboard?range=custom&from=nonsense").get_data(as_text=True))
