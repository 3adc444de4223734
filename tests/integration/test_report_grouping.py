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
from tests.integration.test_reports_api import NOW, Fixture, at
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
