"""Feature usage: the request that serves a dashboard view, drill-down or CSV export counts it for the account
and the day, whether a session or an API token asked; a page that answered 404 counts nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.conftest import sign_in

BROWSER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130 Safari/537.36"}


def test_each_view_export_and_drill_down_is_counted_by_the_request_that_served_it(app, container) -> None:  # type: ignore[no-untyped-def]
    creator = app.test_client()
    sign_in(creator, container, "creator@example.com")
    accounts = container.services.accounts()
    site = accounts.add_site("creator@example.com", ["example.com"])
    event = {"s": site.public_key, "n": "pageview", "i": "creator-event-0001", "v": "creator-visitor"}
    event["u"] = "https://example.com/?utm_source=youtube&utm_medium=video"
    assert app.test_client().post("/t/e", data=json.dumps(event), headers=BROWSER).status_code == 204
    container.gateways.job_queue().wait_until_idle()
    token = accounts.issue_api_token("creator@example.com")

    for path in (
        "/dashboard?group=campaign",
        "/dashboard/sources/YouTube",
        "/api/v1/reports/sources/YouTube/mediums.csv",
    ):
        assert creator.get(path).status_code == 200, path
    bearer = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/reports/sources.csv", headers=bearer).status_code == 200
    for missing in (
        "/dashboard/sources/Nowhere",
        "/dashboard/purchases/999",
        "/api/v1/reports/sources/Nowhere/mediums.csv",
    ):
        assert creator.get(missing).status_code == 404, missing

    today = datetime.now(UTC).date()
    totals = {t.feature: (t.accounts, t.uses, t.account_days) for t in container.services.feature_usage().totals(today)}
    assert totals == {
        "dashboard_by_campaign": (1, 1, 1),
        "source_drill_down": (1, 1, 1),
        "source_detail_csv": (1, 1, 1),
        "sources_csv": (1, 1, 1),
    }
