"""The reports API against a hand-computed fixture, on SQLite and PostgreSQL.

The fixture (every number below was worked out by hand from it; "now" is 2026-11-20 12:00 UTC, so the 7-day
range is Nov 14-20 and the previous period Nov 7-13):

visitor  sessions (source, medium, campaign, page)                   buys (USD)
A        Nov 15 YouTube video/launch /course; Nov 18 Instagram /pricing  Nov 18 100.00, 20.00 refunded
B        Nov 16 Google (organic) /                                     Nov 16 50.00, Nov 19 35.00; EUR 99.00
C        Nov 17 YouTube video/tips /free                               -
D        Nov 10 YouTube video/launch /course                           Nov 10 100.00 (previous period)
E        Nov 19 Direct /                                               -
(none)   -                                                             Nov 19 20.00 by an unknown email
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from dependency_injector import providers

from core.domain.events import EventKind, TrackerEvent
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord, RefundRecord
from tests.conftest import restore_rows, table_rows
from tests.unit.fakes import FixedClock

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


class Fixture:
    def __init__(self, container) -> None:  # type: ignore[no-untyped-def]
        self.container = container
        self.accounts = container.services.accounts()
        self.tracking = container.services.tracking()
        self._events = 0

    def creator(self, email: str, domain: str) -> tuple[int, str, str]:
        self.accounts.ensure_account(email)
        site = self.accounts.add_site(email, [domain])
        return site.account_id, site.public_key, self.accounts.issue_api_token(email)

    def event(self, site: str, visitor: str, when: datetime, url: str, referrer: str | None = None) -> None:
        self._events += 1
        outcome = self.tracking.record(
            TrackerEvent(
                site_key=site,
                client_event_id=f"event{self._events:05d}",
                kind=EventKind.PAGEVIEW,
                visitor_key=visitor,
                url=url,
                referrer=referrer,
                received_at=when,
                user_agent=BROWSER,
            )
        )
        assert outcome.stored

    def identify(self, site: str, visitor: str, when: datetime, email: str) -> None:
        self._events += 1
        self.tracking.record(
            TrackerEvent(
                site_key=site,
                client_event_id=f"event{self._events:05d}",
                kind=EventKind.IDENTIFY,
                visitor_key=visitor,
                url="https://example.com/",
                email=email,
                received_at=when,
                user_agent=BROWSER,
            )
        )


def purchase(pid: str, email: str, cents: int, when: datetime, currency: str = "USD") -> PurchaseRecord:
    return PurchaseRecord("csv", pid, Money(cents, currency), when, email=email, course_name="Course")


def build_world(container) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The fixture's data, stored through the real services (also served to a real browser in tests/e2e)."""
    f = Fixture(container)
    account, site, token = f.creator("creator@example.com", "example.com")
    yt = "https://example.com/{page}?utm_source=youtube&utm_medium=video&utm_campaign={campaign}"
    f.event(site, "visitor-a", at(15), yt.format(page="course", campaign="launch"))
    f.event(site, "visitor-a", at(15, 10).replace(minute=5), "https://example.com/pricing")  # same session
    f.event(site, "visitor-a", at(18), "https://example.com/pricing", "https://www.instagram.com/")
    f.identify(site, "visitor-a", at(18, 10).replace(minute=30), "a@example.com")
    f.event(site, "visitor-b", at(16, 9), "https://example.com/", "https://www.google.com/")
    f.identify(site, "visitor-b", at(16, 9).replace(minute=10), "b@example.com")
    f.event(site, "visitor-c", at(17), yt.format(page="free", campaign="tips"))
    f.event(site, "visitor-d", at(10), yt.format(page="course", campaign="launch"))
    f.identify(site, "visitor-d", at(10).replace(minute=1), "d@example.com")
    f.event(site, "visitor-e", at(19), "https://example.com/")
    container.gateways.job_queue().wait_until_idle()
    container.services.purchases().ingest(
        account,
        [
            purchase("a-1", "a@example.com", 10000, at(18, 11)),
            RefundRecord("csv", "a-1", "a-1-r", Money(2000, "USD"), at(19)),
            purchase("b-1", "b@example.com", 5000, at(16)),
            purchase("b-2", "b@example.com", 3500, at(19)),
            purchase("b-3", "b@example.com", 9900, at(19, 12), currency="EUR"),
            purchase("d-1", "d@example.com", 10000, at(10, 11)),
            purchase("x-1", "stranger@example.com", 2000, at(19, 13)),
        ],
    )
    # Another creator, whose data must never show in the first one's reports.
    other, other_site, other_token = f.creator("other@example.com", "other.example")
    f.event(other_site, "visitor-z", at(17), "https://other.example/?utm_source=tiktok", None)
    f.identify(other_site, "visitor-z", at(17, 11), "a@example.com")
    container.gateways.job_queue().wait_until_idle()
    container.services.purchases().ingest(other, [purchase("z-1", "a@example.com", 77700, at(17, 12))])
    return {"token": token, "other_token": other_token}


# The fixture as stored by build_world, per database kind: built through the services once per process (per
# pytest-xdist worker), then written back row for row into each test's empty database (some 100 tests use it).
_BUILT: dict[str, tuple[dict[str, list[dict[str, Any]]], dict[str, str]]] = {}


@pytest.fixture
def world(container):  # type: ignore[no-untyped-def]
    engine = container.gateways.engine()
    if engine.dialect.name in _BUILT:
        rows, data = _BUILT[engine.dialect.name]
        restore_rows(engine, rows)
    else:
        data = build_world(container)
        _BUILT[engine.dialect.name] = (table_rows(engine), data)
    container.gateways.clock.override(providers.Object(FixedClock(NOW)))
    yield data
    container.gateways.clock.reset_override()


def get(client, world, url: str, token: str = "token"):  # type: ignore[no-untyped-def]
    return client.get(url, headers={"Authorization": f"Bearer {world[token]}"})


def rows(response) -> list[tuple]:  # type: ignore[no-untyped-def, type-arg]
    return [
        (
            r["source"],
            r["channel"],
            r["visitors"],
            r["revenue"],
            r["students"],
            r["purchases"],
            r["conversion_rate"],
            r["avg_order_value"],
            r["revenue_per_visitor"],
        )
        for r in response.json["rows"]
    ]


def test_sources_first_touch_last_7_days(client, world) -> None:  # type: ignore[no-untyped-def]
    response = get(client, world, "/api/v1/reports/sources?range=7d&model=first_touch")
    assert response.status_code == 200
    body = response.json
    assert (body["range"], body["model"], body["currency"], body["group"], body["sort"]) == (
        "7d",
        "first_touch",
        "USD",
        "source",
        "-revenue",
    )
    assert rows(response) == [
        ("Google", "Organic Search", 1, 8500, 1, 2, 1.0, 4250, 8500),
        ("YouTube", "Organic Video", 2, 8000, 1, 1, 0.5, 8000, 4000),
        ("Direct", "Direct", 1, 0, 0, 0, 0.0, None, 0),
    ]
    assert body["unmatched"] == {"revenue": 2000, "purchases": 1}


def test_sources_last_touch_credits_the_last_non_direct_arrival(client, world) -> None:  # type: ignore[no-untyped-def]
    response = get(client, world, "/api/v1/reports/sources?range=7d&model=last_touch")
    assert rows(response) == [
        ("Google", "Organic Search", 1, 8500, 1, 2, 1.0, 4250, 8500),
        ("Instagram", "Organic Social", 1, 8000, 1, 1, 1.0, 8000, 8000),
        ("YouTube", "Organic Video", 2, 0, 0, 0, 0.0, None, 0),
        ("Direct", "Direct", 1, 0, 0, 0, 0.0, None, 0),
    ]


def test_all_time_takes_in_the_earlier_visitor_and_purchase(client, world) -> None:  # type: ignore[no-untyped-def]
    response = get(client, world, "/api/v1/reports/sources?range=all&model=first_touch")
    assert rows(response)[0] == ("YouTube", "Organic Video", 3, 18000, 2, 2, 0.6667, 9000, 6000)
    euros = get(client, world, "/api/v1/reports/sources?range=all&currency=eur")
    assert euros.json["currency"] == "EUR"
    assert rows(euros) == [
        ("Google", "Organic Search", 1, 9900, 1, 1, 1.0, 9900, 9900),
        ("YouTube", "Organic Video", 3, 0, 0, 0, 0.0, None, 0),
        ("Direct", "Direct", 1, 0, 0, 0, 0.0, None, 0),
    ]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("source", ["Direct", "Google", "YouTube"]),
        ("-source", ["YouTube", "Google", "Direct"]),
        ("visitors", ["Google", "Direct", "YouTube"]),
        ("-conversion_rate", ["Google", "YouTube", "Direct"]),
        ("avg_order_value", ["Google", "YouTube", "Direct"]),  # no value goes last either way
        ("-avg_order_value", ["YouTube", "Google", "Direct"]),
        ("revenue", ["Direct", "YouTube", "Google"]),
    ],
)
def test_every_column_sorts(client, world, sort: str, order: list[str]) -> None:  # type: ignore[no-untyped-def]
    response = get(client, world, f"/api/v1/reports/sources?range=7d&sort={sort}")
    assert [r["source"] for r in response.json["rows"]] == order
    assert response.json["sort"] == sort


def test_bad_parameters_are_refused_with_what_is_allowed(client, world) -> None:  # type: ignore[no-untyped-def]
    for query, word in [
        ("sort=price", "sort must be one of"),
        ("group=country", "group must be one of"),
        ("range=1y", "range must be one of"),
        ("model=linear", "model must be one of"),
        ("currency=dollars", "currency must be"),
        ("currency=USD%0A", "currency must be"),  # a last newline is not part of any valid value
        ("sort=-revenue%0A", "sort must be one of"),
        ("range=custom&from=2026-13-01", "from and to are days written YYYY-MM-DD"),
        ("range=7d&range=30d", "range may be given only once"),
    ]:
        response = get(client, world, f"/api/v1/reports/sources?{query}")
        assert response.status_code == 400
        assert word in response.json["error"]


def test_a_parameter_given_twice_is_refused_not_half_read(client, world) -> None:  # type: ignore[no-untyped-def]
    response = get(client, world, "/api/v1/purchases?limit=1&limit=200")
    assert (response.status_code, response.json) == (400, {"error": "limit may be given only once"})
    for limit in ("0", "201", "ten", "2.5"):
        response = get(client, world, f"/api/v1/purchases?limit={limit}")
        assert (response.status_code, response.json) == (400, {"error": "limit must be a whole number from 1 to 200"})
    # A parameter no operation reads (a tag on a shared link) is ignored, as before.
    assert get(client, world, "/api/v1/purchases?limit=2&utm_source=x").status_code == 200


def test_group_by_channel_and_by_campaign(client, world) -> None:  # type: ignore[no-untyped-def]
    channels = get(client, world, "/api/v1/reports/sources?range=7d&group=channel")
    assert [(r["source"], r["visitors"], r["revenue"]) for r in channels.json["rows"]] == [
        ("Organic Search", 1, 8500),
        ("Organic Video", 2, 8000),
        ("Direct", 1, 0),
    ]
    campaigns = get(client, world, "/api/v1/reports/sources?range=7d&group=campaign")
    assert [(r["source"], r["visitors"], r["revenue"], r["students"]) for r in campaigns.json["rows"]] == [
        ("(no campaign)", 2, 8500, 1),
        ("launch", 1, 8000, 1),
        ("tips", 1, 0, 0),
    ]


def test_the_csv_is_the_json_in_human_units(client, world) -> None:  # type: ignore[no-untyped-def]
    for query in ["range=7d&model=first_touch", "range=all&model=last_touch&sort=visitors", "range=7d&group=campaign"]:
        data = get(client, world, f"/api/v1/reports/sources?{query}").json
        response = get(client, world, f"/api/v1/reports/sources.csv?{query}")
        assert response.status_code == 200
        assert response.is_streamed
        assert response.headers["Content-Disposition"].endswith('-2026-11-20.csv"')
        header, *lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        assert header[1:] == ["Visitors", "Revenue", "Students", "Conversion %", "Avg Order Value", "Revenue/Visitor"]
        expected = [
            [
                r["source"],
                str(r["visitors"]),
                f"{r['revenue'] / 100:.2f}",
                str(r["students"]),
                "" if r["conversion_rate"] is None else f"{r['conversion_rate'] * 100:.2f}",
                "" if r["avg_order_value"] is None else f"{r['avg_order_value'] / 100:.2f}",
                "" if r["revenue_per_visitor"] is None else f"{r['revenue_per_visitor'] / 100:.2f}",
            ]
            for r in data["rows"]
        ]
        expected.append(["Unmatched", "", f"{data['unmatched']['revenue'] / 100:.2f}", "", "", "", ""])
        assert lines == expected
    first = get(client, world, "/api/v1/reports/sources.csv?range=7d")
    assert first.headers["Content-Disposition"] == (
        'attachment; filename="coursesignal-sources-source-7d-first_touch-USD-2026-11-20.csv"'
    )
    assert first.get_data(as_text=True).splitlines()[1] == "Google,1,85.00,1,100.00,42.50,85.00"


def test_summary_with_trend_match_rate_and_every_day(client, world) -> None:  # type: ignore[no-untyped-def]
    body = get(client, world, "/api/v1/reports/summary?range=7d").json
    assert {k: body[k] for k in body if k != "daily"} == {
        "range": "7d",
        "currency": "USD",
        "since": "2026-11-14T00:00:00Z",
        "until": "2026-11-20T12:00:00Z",
        "revenue": 18500,
        "previous_revenue": 10000,
        "trend_percent": 85.0,
        "purchases": 4,
        "matched_purchases": 3,
        "match_rate": 0.75,
        "avg_order_value": 4625,
    }
    assert [(d["date"], d["revenue"], d["purchases"]) for d in body["daily"]] == [
        ("2026-11-14", 0, 0),
        ("2026-11-15", 0, 0),
        ("2026-11-16", 5000, 1),
        ("2026-11-17", 0, 0),
        ("2026-11-18", 8000, 1),
        ("2026-11-19", 5500, 2),
        ("2026-11-20", 0, 0),
    ]
    everything = get(client, world, "/api/v1/reports/summary?range=all").json
    assert (everything["revenue"], everything["purchases"], everything["previous_revenue"]) == (28500, 5, None)
    assert everything["trend_percent"] is None
    assert everything["daily"][0]["date"] == "2026-11-10"
    assert len(everything["daily"]) == 11


def test_drill_down_into_one_source(client, world) -> None:  # type: ignore[no-untyped-def]
    body = get(client, world, "/api/v1/reports/sources/YouTube?range=7d&model=first_touch").json
    table = lambda name: [(r["name"], r["visitors"], r["revenue"], r["students"]) for r in body[name]]  # noqa: E731
    assert table("mediums") == [("video", 2, 8000, 1)]
    assert table("campaigns") == [("launch", 1, 8000, 1), ("tips", 1, 0, 0)]
    assert table("landing_pages") == [("https://example.com/course", 1, 8000, 1), ("https://example.com/free", 1, 0, 0)]
    assert [(p["platform_purchase_id"], p["net_amount"]) for p in body["purchases"]] == [("a-1", 8000)]
    everything = get(client, world, "/api/v1/reports/sources/YouTube?range=all").json
    assert [p["platform_purchase_id"] for p in everything["purchases"]] == ["a-1", "d-1"]
    assert everything["campaigns"][0] == {
        "name": "launch",
        "visitors": 2,
        "revenue": 18000,
        "students": 2,
        "purchases": 2,
        "conversion_rate": 1.0,
        "avg_order_value": 9000,
        "revenue_per_visitor": 9000,
    }
    last = get(client, world, "/api/v1/reports/sources/Instagram?range=7d&model=last_touch").json
    assert [(r["name"], r["visitors"], r["revenue"]) for r in last["landing_pages"]] == [
        ("https://example.com/pricing", 1, 8000)
    ]
    csv_text = get(client, world, "/api/v1/reports/sources/YouTube/campaigns.csv?range=7d").get_data(as_text=True)
    assert csv_text.splitlines() == [
        "Campaign,Visitors,Revenue,Students,Conversion %,Avg Order Value,Revenue/Visitor",
        "launch,1,80.00,1,100.00,80.00,80.00",
        "tips,1,0.00,0,0.00,,0.00",
    ]
    purchases_csv = get(client, world, "/api/v1/reports/sources/YouTube/purchases.csv?range=7d")
    assert purchases_csv.get_data(as_text=True).splitlines()[1].startswith("2026-11-18T11:00:00Z,a@example.com,")


def test_recent_purchases_with_status_method_and_both_touches(client, world) -> None:  # type: ignore[no-untyped-def]
    body = get(client, world, "/api/v1/purchases?limit=3").json
    assert [p["platform_purchase_id"] for p in body["purchases"]] == ["x-1", "b-3", "b-2"]
    stranger, euros, _ = body["purchases"]
    assert (stranger["status"], stranger["match_method"], stranger["first_touch"]) == ("unmatched", None, None)
    assert (stranger["match_confidence"], euros["match_confidence"]) == (None, 95)
    assert (euros["currency"], euros["amount"], euros["status"], euros["match_method"]) == (
        "EUR",
        9900,
        "matched",
        "email",
    )
    assert euros["first_touch"]["source"] == euros["last_touch"]["source"] == "Google"
    assert get(client, world, "/api/v1/purchases?limit=0").status_code == 400


def test_one_purchase_with_the_buyers_whole_session_history(client, world) -> None:  # type: ignore[no-untyped-def]
    recent = get(client, world, "/api/v1/purchases?limit=50").json["purchases"]
    bought = next(p for p in recent if p["platform_purchase_id"] == "a-1")
    body = get(client, world, f"/api/v1/purchases/{bought['id']}").json
    assert (body["amount"], body["refunded"], body["net_amount"], body["match_method"]) == (10000, 2000, 8000, "email")
    assert body["net_amount_major"] == "80.00"
    assert body["match_confidence"] == 95
    assert (body["first_touch"]["source"], body["last_touch"]["source"]) == ("YouTube", "Instagram")
    assert [(s["started_at"], s["source"], s["landing_page"]) for s in body["sessions"]] == [
        (
            "2026-11-15T10:00:00Z",
            "YouTube",
            "https://example.com/course?utm_source=youtube&utm_medium=video&utm_campaign=launch",
        ),
        ("2026-11-18T10:00:00Z", "Instagram", "https://example.com/pricing"),
    ]
    assert body["sessions"][0]["last_seen_at"] == "2026-11-15T10:05:00Z"


def test_another_accounts_ids_and_sources_are_not_found(client, world) -> None:  # type: ignore[no-untyped-def]
    theirs = get(client, world, "/api/v1/purchases", token="other_token").json["purchases"]
    assert [p["platform_purchase_id"] for p in theirs] == ["z-1"]
    assert get(client, world, f"/api/v1/purchases/{theirs[0]['id']}").status_code == 404
    assert get(client, world, "/api/v1/purchases/999999").status_code == 404
    missing = get(client, world, "/api/v1/reports/sources/TikTok?range=all")
    assert missing.status_code == 404
    assert "Pick a source from the report" in missing.json["error"]
    assert get(client, world, "/api/v1/reports/sources/TikTok?range=all", token="other_token").status_code == 200
    mine = get(client, world, "/api/v1/reports/sources?range=all", token="other_token")
    assert rows(mine) == [("TikTok", "Organic Social", 1, 77700, 1, 1, 1.0, 77700, 77700)]


def test_reports_need_a_token_or_a_session(client, world) -> None:  # type: ignore[no-untyped-def]
    for url in ["/api/v1/reports/summary", "/api/v1/purchases", "/api/v1/purchases/1", "/api/v1/reports/sources/X"]:
        assert client.get(url).status_code == 401


def test_rebuilding_the_read_tables_from_history_gives_what_was_kept(container, world) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from adapters.persistence import tables as t
    from adapters.persistence.revenue_lines import rebuild_revenue_lines
    from adapters.persistence.visitor_counts import rebuild_visitor_counts

    engine = container.gateways.engine()
    counts = select(t.visitor_counts).where(t.visitor_counts.c.visitors != 0)
    lines = select(t.revenue_lines)

    def kept(query) -> set[tuple]:  # type: ignore[no-untyped-def, type-arg]
        with engine.connect() as connection:
            return {tuple(row) for row in connection.execute(query)}

    incremental_counts, incremental_lines = kept(counts), kept(lines)
    assert len(incremental_counts) > 50
    # every purchase; the unmatched one once more; a line per model for each matched one
    assert len(incremental_lines) == 7 + 1 + 2 * 6
    with engine.begin() as connection:
        rebuild_visitor_counts(connection)
        rebuild_revenue_lines(connection)
    assert kept(counts) == incremental_counts
    assert kept(lines) == incremental_lines


def test_each_report_reads_on_one_connection(container, world) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import event

    from core.domain.attribution import Model
    from core.domain.reports import ReportRange

    engine = container.gateways.engine()
    account_id = container.services.accounts().ensure_account("creator@example.com").id
    reports = container.services.reports()
    checkouts: list[object] = []

    def count(*_: object) -> None:
        checkouts.append(None)

    event.listen(engine, "checkout", count)
    try:
        detail = reports.source_detail(account_id, "YouTube", ReportRange.LAST_7_DAYS, Model.FIRST_TOUCH)
        assert len(checkouts) == 1
        assert detail.purchases  # eight statements ran on it
        with reports.reading():
            reports.sources(account_id, ReportRange.LAST_7_DAYS, Model.FIRST_TOUCH)
            reports.summary(account_id, ReportRange.LAST_7_DAYS)
            reports.recent_purchases(account_id, 10)
        assert len(checkouts) == 2
    finally:
        event.remove(engine, "checkout", count)
