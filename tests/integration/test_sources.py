"""Sources end to end: visits sent to /t/e as the tracker sends them, then what the creator and the operator
see of where they came from."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from core.domain.money import Money
from core.domain.purchases import PurchaseRecord
from tests.conftest import sign_in
from tests.web_session import post_form

CREATOR = "creator@example.com"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


class Site:
    def __init__(self, container: Any, client: Any) -> None:
        self.container = container
        self.client = client
        accounts = container.services.accounts()
        accounts.ensure_account(CREATOR)
        self.site = accounts.add_site(CREATOR, ["example.com"])
        self.account_id = self.site.account_id
        self._events = 0

    def visit(
        self,
        visitor: str,
        *,
        referrer: str = "",
        query: str = "",
        user_agent: str = BROWSER,
        email: str | None = None,
    ) -> int:
        self._events += 1
        url = "https://example.com/course" + (f"?{query}" if query else "")
        kind = "identify" if email else "pageview"
        body = {"s": self.site.public_key, "n": kind, "i": f"ev{self._events:08d}", "v": visitor, "u": url}
        if referrer:
            body["r"] = referrer
        if email:
            body["e"] = email
        response = self.client.post(
            "/t/e", data=json.dumps(body), content_type="text/plain", headers={"User-Agent": user_agent}
        )
        assert response.status_code == 204, response.get_data(as_text=True)
        return response.status_code

    def idle(self) -> None:
        self.container.gateways.job_queue().wait_until_idle()

    def buyer(self, visitor: str, email: str, cents: int, **landing: str) -> None:
        """A visitor who lands, gives their email and buys."""
        self.visit(visitor, **landing)
        self.visit(visitor, email=email)
        self.idle()
        record = PurchaseRecord("csv", f"order-{visitor}", Money(cents, "USD"), datetime.now(UTC), email=email)
        self.container.services.purchases().ingest(self.account_id, [record])


@pytest.fixture
def site(container, client) -> Site:  # type: ignore[no-untyped-def]
    return Site(container, client)


@pytest.fixture
def cli(settings, monkeypatch):  # type: ignore[no-untyped-def]
    from coursesignal.cli import main

    monkeypatch.setenv("COURSESIGNAL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COURSESIGNAL_INSTANCE_PATH", str(settings.instance_path))
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))


def test_the_cli_lists_the_hosts_that_fell_through_to_referral(site: Site, cli: Any) -> None:
    site.visit("visitor-aaaa1", referrer="https://blog.partner.org/review")
    site.visit("visitor-bbbb2", referrer="https://blog.partner.org/other-post")
    site.visit("visitor-cccc3", referrer="https://forum.example.net/t/1")
    site.visit("visitor-dddd4", referrer="https://creator.substack.com/p/launch")  # Substack: Email, not Referral
    site.visit("visitor-eeee5", referrer="https://www.google.com/")
    site.visit("visitor-ffff6", referrer="https://example.com/blog")  # the creator's own site: no source
    site.idle()

    result = cli("referrers", CREATOR)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].split()[:3] == ["blog.partner.org", "2", "2"]
    assert lines[1].split()[-1] == "partner.org"
    assert lines[2].split()[:3] == ["forum.example.net", "1", "1"]
    assert lines[-1] == "2 hosts fell through to Referral in the last 90 days."
    assert "substack" not in result.output
    assert "google" not in result.output

    as_json = cli("referrers", CREATOR, "--json", "--days", "0")
    assert as_json.exit_code == 0, as_json.output
    assert [(r["host"], r["sessions"], r["today"]) for r in json.loads(as_json.output)] == [
        ("blog.partner.org", 2, None),
        ("forum.example.net", 1, None),
    ]
    assert "No account" in cli("referrers", "nobody@example.com").output


def _report(client: Any, query: str = "range=all&model=first_touch") -> dict[str, tuple[str, int, int, int]]:
    response = client.get(f"/api/v1/reports/sources?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return {r["source"]: (r["channel"], r["visitors"], r["revenue"], r["students"]) for r in response.json["rows"]}


def test_creator_rules_rename_and_merge_sources_in_every_report_past_ones_included(
    site: Site, client: Any, container: Any
) -> None:
    site.buyer("visitor-ck001", "a@example.com", 10000, query="utm_source=ck&utm_medium=email")
    site.buyer("visitor-kit01", "b@example.com", 5000, query="utm_source=convertkit")
    site.buyer("visitor-blog1", "c@example.com", 3000, referrer="https://blog.partner.org/review")
    site.visit("visitor-blog2", referrer="https://blog.partner.org/other")
    site.idle()
    sign_in(client, container, CREATOR)
    assert _report(client) == {
        "Ck": ("Email", 1, 10000, 1),
        "ConvertKit": ("Email", 1, 5000, 1),
        "blog.partner.org": ("Referral", 2, 3000, 1),
    }

    page = client.get("/sources/").get_data(as_text=True)
    assert "No rules yet" in page
    assert '<option value="Ck">' in page  # the recorded sources to pick from
    merged = post_form(client, "/sources/rules", {"match": "Ck", "source": "ConvertKit"}, form_page="/sources/")
    assert merged.status_code == 302
    renamed = post_form(
        client,
        "/sources/rules",
        {"match": "blog.partner.org", "source": "Partner Blog", "channel": "Affiliates"},
        form_page="/sources/",
    )
    assert renamed.status_code == 302
    page = client.get("/sources/").get_data(as_text=True)
    assert "“blog.partner.org” now shows as “Partner Blog”" in page
    assert '<td data-label="Shown as">ConvertKit</td>' in page

    # Nothing was re-ingested: the same stored visits and credits, read under the rules.
    assert _report(client) == {
        "ConvertKit": ("Email", 2, 15000, 2),
        "Partner Blog": ("Affiliates", 2, 3000, 1),
    }
    assert _report(client, "range=all&model=last_touch") == _report(client)
    channels = client.get("/api/v1/reports/sources?range=all&group=channel").json["rows"]
    assert {r["source"]: r["revenue"] for r in channels} == {"Email": 15000, "Affiliates": 3000}
    csv_report = client.get("/api/v1/reports/sources.csv?range=all").get_data(as_text=True)
    assert "ConvertKit,2,150.00" in csv_report
    assert "Ck," not in csv_report

    # The merged source's own page adds up every recorded source shown under its name.
    detail = client.get("/dashboard/sources/ConvertKit?range=all")
    assert detail.status_code == 200
    text = detail.get_data(as_text=True)
    assert "email" in text  # the medium of the visit recorded as Ck
    tagged = client.get("/api/v1/reports/sources/ConvertKit?range=all").json["tagged_as"]
    assert {r["name"]: (r["visitors"], r["revenue"]) for r in tagged} == {"ck": (1, 10000), "convertkit": (1, 5000)}
    assert client.get("/dashboard/sources/Ck?range=all").status_code == 404
    # Searching purchases by the name reports show finds those recorded under every merged source.
    found = client.get("/purchases?source=convertkit").get_data(as_text=True)
    assert "a@example.com" in found
    assert "b@example.com" in found
    assert "c@example.com" not in found

    bad = post_form(client, "/sources/rules", {"match": "ConvertKit", "source": ""}, form_page="/sources/")
    assert bad.status_code == 400
    assert "already shows as" in bad.get_data(as_text=True)

    removed = post_form(client, "/sources/rules/remove", {"match": "Ck"}, form_page="/sources/")
    assert removed.status_code == 302
    assert _report(client) == {
        "Ck": ("Email", 1, 10000, 1),
        "ConvertKit": ("Email", 1, 5000, 1),
        "Partner Blog": ("Affiliates", 2, 3000, 1),
    }


def test_a_sources_drill_down_shows_the_raw_utm_source_values_it_was_named_from(
    site: Site, client: Any, container: Any
) -> None:
    site.buyer("visitor-yt001", "a@example.com", 10000, query="utm_source=yt&utm_medium=video")
    site.buyer("visitor-yt002", "b@example.com", 5000, query="utm_source=YouTube")
    site.visit("visitor-yt003", query="utm_source=yt")
    site.visit("visitor-yt004", referrer="https://www.youtube.com/")  # YouTube too, with no utm_source at all
    site.idle()
    sign_in(client, container, CREATOR)
    assert set(_report(client)) == {"YouTube"}  # one source, however the links spelled it

    detail = client.get("/api/v1/reports/sources/YouTube?range=all&model=first_touch").json
    tagged = {r["name"]: (r["visitors"], r["revenue"], r["students"]) for r in detail["tagged_as"]}
    assert tagged == {"yt": (2, 10000, 1), "YouTube": (1, 5000, 1), "(not tagged)": (1, 0, 0)}
    last = client.get("/api/v1/reports/sources/YouTube?range=all&model=last_touch").json["tagged_as"]
    assert {r["name"]: r["visitors"] for r in last} == {"yt": 2, "YouTube": 1, "(not tagged)": 1}

    csv = client.get("/api/v1/reports/sources/YouTube/tagged_as.csv?range=all").get_data(as_text=True).splitlines()
    assert csv[0].startswith("utm_source,Visitors,")
    assert sorted(line.split(",")[:3] for line in csv[1:]) == [
        ["(not tagged)", "1", "0.00"],
        ["YouTube", "1", "50.00"],
        ["yt", "2", "100.00"],
    ]

    page = client.get("/dashboard/sources/YouTube?range=all").get_data(as_text=True)
    assert "Tagged as" in page
    assert "/api/v1/reports/sources/YouTube/tagged_as.csv" in page
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "Tagged as Download CSV" in text
    assert "utm_source values named YouTube" in text  # the table's caption
    assert "yt 2 $100.00" in text
    assert "YouTube 1 $50.00" in text


def test_one_accounts_rules_never_touch_another_accounts_reports(site: Site, client: Any, container: Any) -> None:
    site.buyer("visitor-ck001", "a@example.com", 10000, query="utm_source=ck")
    other = container.services.accounts().ensure_account("other@example.com")
    container.services.source_rules().add(other.id, "Ck", "Somebody Else")
    sign_in(client, container, CREATOR)
    assert _report(client) == {"Ck": ("Referral", 1, 10000, 1)}


CUBOT = (
    "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Mobile Safari/537.36"
)


def test_the_creator_sees_how_many_bot_visits_were_left_out(site: Site, client: Any, container: Any) -> None:
    site.visit("visitor-wa001", user_agent="WhatsApp/2.23.20.0 A")
    site.visit("visitor-sl001", user_agent="Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")
    site.visit("visitor-im001", user_agent="facebookexternalhit/1.1 Facebot Twitterbot/1.0")
    site.visit("visitor-phone", user_agent=CUBOT, query="utm_source=podcast")  # a real phone, "bot" in its name
    site.idle()
    sign_in(client, container, CREATOR)
    page = client.get("/sources/").get_data(as_text=True)
    assert '<strong class="bot-visits">3</strong> visits' in page
    assert "in the last\n      30 days were left out" in page
    assert _report(client) == {"Podcast": ("Podcast", 1, 0, 0)}
    exported = container.gateways.personal_data().account_rows(site.account_id)
    assert [row["visits"] for row in exported["bot_visits"]] == [3]
