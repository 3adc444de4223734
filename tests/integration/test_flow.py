"""The foundation's thin flow, through every layer: tracker endpoint -> importer -> revenue report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from coursesignal.cli import main
from tests.web_session import sign_up_and_verify

BROWSER = {"User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 Chrome/130 Safari/537.36"}


def send(client, **event: str):  # type: ignore[no-untyped-def]
    return client.post("/t/e", data=json.dumps(event), content_type="text/plain", headers=BROWSER)


def test_pageview_identify_import_then_report(client, container, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    site = accounts.add_site("creator@example.com", ["example.com"])
    token = accounts.issue_api_token("creator@example.com")

    page = "https://example.com/course?utm_source=youtube&utm_medium=video&utm_campaign=launch"
    assert (
        send(
            client, s=site.public_key, n="pageview", i="event0001", v="visitor01", u=page, r="https://www.youtube.com/"
        ).status_code
        == 204
    )
    assert (
        send(
            client,
            s=site.public_key,
            n="identify",
            i="event0002",
            v="visitor01",
            u="https://example.com/course",
            e=" Buyer@Example.com",
        ).status_code
        == 204
    )
    container.gateways.job_queue().wait_until_idle()

    bought = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    earlier = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    csv_file = tmp_path / "purchases.csv"
    csv_file.write_text(
        "purchase_id,email,amount,currency,purchased_at,course_name\n"
        f"k-1001,buyer@example.com,199.00,USD,{bought},Launch Course\n"
        f"k-1002,stranger@example.com,49.00,USD,{earlier},Mini Course\n"
    )
    purchases = container.services.purchases()
    summary = purchases.import_from_platform(
        site.account_id, "csv", {"path": str(csv_file)}, datetime(1970, 1, 1, tzinfo=UTC), lambda done, total: None
    )
    assert summary.purchases_added == 2

    container.gateways.clock.override(_Later())
    response = client.get(
        "/api/v1/reports/sources?range=all&model=first_touch", headers={"Authorization": f"Bearer {token}"}
    )
    container.gateways.clock.reset_override()
    assert response.status_code == 200
    assert response.json == {
        "range": "all",
        "model": "first_touch",
        "currency": "USD",
        "group": "source",
        "sort": "-revenue",
        "rows": [
            {
                "source": "YouTube",
                "channel": "Organic Video",
                "visitors": 1,
                "revenue": 19900,
                "students": 1,
                "purchases": 1,
                "conversion_rate": 1.0,
                "avg_order_value": 19900,
                "revenue_per_visitor": 19900,
            },
        ],
        "unmatched": {"revenue": 4900, "purchases": 1},
    }


class _Later:
    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(minutes=5)


def test_the_session_cookie_also_authenticates(client, settings) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, "creator@example.com")
    response = client.get("/api/v1/reports/sources?range=7d")
    assert response.status_code == 200
    assert response.json["rows"] == []


def test_the_cli_commands_run_the_same_flow_on_the_embedded_database(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COURSESIGNAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("COURSESIGNAL_DATABASE_URL", raising=False)
    monkeypatch.delenv("COURSESIGNAL_REDIS_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(main, ["create-site", "creator@example.com", "--domain", "https://www.example.com/"])
    assert created.exit_code == 0, created.output
    site_key = created.output.split("Site key: ")[1].split()[0]
    assert f'data-site="{site_key}"' in created.output
    token = runner.invoke(main, ["create-token", "creator@example.com"])
    assert token.output.startswith("cs_pat_")

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "purchase_id,email,amount,currency,purchased_at\np1,a@example.com,10,USD,2026-01-01T00:00:00Z\n"
        "p2,a@example.com,ten,USD,2026-01-01T00:00:00Z\n"
    )
    refused = runner.invoke(main, ["import-purchases", str(bad), "--site", site_key])
    assert refused.exit_code == 1
    assert "Row 3: amount: not a number" in refused.output
    assert "Nothing from bad.csv was imported" in refused.output

    good = tmp_path / "good.csv"
    good.write_text("purchase_id,email,amount,currency,purchased_at\np1,a@example.com,10,USD,2026-01-01T00:00:00Z\n")
    imported = runner.invoke(main, ["import-purchases", str(good), "--site", site_key])
    assert "Imported 1 purchases (0 already known)" in imported.output
    again = runner.invoke(main, ["import-purchases", str(good), "--site", site_key])
    assert "Imported 0 purchases (1 already known)" in again.output
    assert runner.invoke(main, ["import-purchases", str(good), "--site", "cs_nope"]).exit_code == 1
