"""Sources end to end: visits sent to /t/e as the tracker sends them, then what the creator and the operator
see of where they came from."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

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

    def visit(self, visitor: str, *, referrer: str = "", query: str = "", user_agent: str = BROWSER) -> int:
        self._events += 1
        url = "https://example.com/course" + (f"?{query}" if query else "")
        body = {"s": self.site.public_key, "n": "pageview", "i": f"ev{self._events:08d}", "v": visitor, "u": url}
        if referrer:
            body["r"] = referrer
        response = self.client.post(
            "/t/e", data=json.dumps(body), content_type="text/plain", headers={"User-Agent": user_agent}
        )
        assert response.status_code == 204, response.get_data(as_text=True)
        return response.status_code

    def idle(self) -> None:
        self.container.gateways.job_queue().wait_until_idle()


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
