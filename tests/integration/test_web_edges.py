"""Bad input at the edges gets a short reason and stores nothing; health endpoints answer."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from adapters.persistence import tables
from adapters.web.contract import routes
from core.domain.purchases import DERIVED_VISITOR_CONFIDENCE, MatchMethod

BROWSER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130 Safari/537.36"}


@pytest.fixture
def site_key(container) -> str:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    return accounts.add_site("creator@example.com", ["example.com"]).public_key


def _event(site_key: str, **overrides: object) -> dict[str, object]:
    return {
        "s": site_key,
        "n": "pageview",
        "i": "event0001",
        "v": "visitor01",
        "u": "https://example.com/",
        **overrides,
    }


def _stored(container) -> int:  # type: ignore[no-untyped-def]
    """Events stored, accepted for the pipeline or processed by it."""
    container.gateways.job_queue().wait_until_idle()
    with container.gateways.engine().connect() as connection:
        return sum(
            int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (tables.events, tables.inbound_events)
        )


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"{not json", 400, "body is not JSON"),
        (b"\xff\xfe\x00", 400, "body is not JSON"),
        (b"[1, 2]", 400, "body must be a JSON object"),
        (b"[" * 5000 + b"]" * 5000, 413, "body larger than"),
        (json.dumps({"n": "pageview"}).encode(), 400, "Missing data"),
    ],
)
def test_malformed_collect_bodies_get_a_reason(client, container, body: bytes, status: int, reason: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/t/e", data=body, content_type="text/plain", headers=BROWSER)
    assert response.status_code == status
    assert reason in response.get_data(as_text=True)
    assert _stored(container) == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"u": "javascript:alert(1)"},
        {"v": "short"},
        {"v": "visitor01\n"},  # the whole id must match its pattern: Python's $ also matches before a last newline
        {"i": "event0001\n"},
        {"n": "purchase"},
        {"n": "identify", "e": "nope"},
        {"u": "https://example.com/" + "a" * 2100},
    ],
)
def test_invalid_fields_are_refused(client, container, site_key: str, overrides: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/t/e", data=json.dumps(_event(site_key, **overrides)), headers=BROWSER)
    assert response.status_code == 400
    assert _stored(container) == 0


def test_unknown_site_is_refused_and_nothing_stored(client, container) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/t/e", data=json.dumps(_event("cs_unknown")), headers=BROWSER)
    assert (response.status_code, response.get_data(as_text=True)) == (404, "unknown site key")
    assert _stored(container) == 0


def test_collect_answers_cors_for_any_origin(client, site_key: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/t/e", data=json.dumps(_event(site_key)), headers={**BROWSER, "Origin": "https://a.example"}
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert client.options("/t/e").status_code == 204


def test_collect_answers_its_preflight_and_carries_the_request_id(client, site_key: str) -> None:  # type: ignore[no-untyped-def]
    """Answered in front of Flask (CollectEndpoint), collect still gives what a browser and an operator need."""
    preflight = client.options("/t/e", headers={"Origin": "https://a.example"})
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST"
    assert preflight.headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert preflight.headers["Access-Control-Max-Age"] == "86400"
    sent = client.post(
        "/t/e", data=json.dumps(_event(site_key)), headers={**BROWSER, "X-Request-ID": "lb-request-0001"}
    )
    assert (sent.status_code, sent.headers["X-Request-ID"]) == (204, "lb-request-0001")
    assert sent.headers["Cache-Control"] == "no-store"
    fresh = client.post("/t/e", data=b"{}", headers=BROWSER)
    assert fresh.status_code == 400
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-ID"])


def test_bots_are_answered_but_not_stored(client, container, site_key: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/t/e", data=json.dumps(_event(site_key)), headers={"User-Agent": "Googlebot/2.1"})
    assert response.status_code == 204
    assert _stored(container) == 0


@pytest.mark.parametrize("header", [None, "Bearer nope", "Bearer cs_pat_unknown", "Basic abc"])
def test_a_bad_or_missing_token_gets_401(client, header: str | None) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/reports/sources", headers=headers)
    assert response.status_code == 401
    assert "API token" in response.json["error"]


def test_bad_report_parameters_get_400(client, container) -> None:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    token = accounts.issue_api_token("creator@example.com")
    response = client.get("/api/v1/reports/sources?range=1y", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.json["error"] == "range must be one of 7d, 30d, 90d, all, custom"
    csv = client.get("/api/v1/reports/sources.csv?range=all", headers={"Authorization": f"Bearer {token}"})
    assert csv.get_data(as_text=True).splitlines()[0] == (
        "Source,Visitors,Revenue,Students,Conversion %,Avg Order Value,Revenue/Visitor"
    )


def test_health_readiness_and_openapi(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok"},
            "tracker_backlog": {"status": "ok", "waiting": 0, "oldest_seconds": 0},
            "webhook_backlog": {"status": "ok", "waiting": 0, "overdue": 0, "oldest_overdue_seconds": 0},
        },
    }
    document = client.get("/openapi.json").json
    assert {"/t/e", "/api/v1/reports/sources", "/api/v1/reports/sources.csv", "/healthz", "/readyz"} <= set(
        document["paths"]
    )


def test_every_machine_route_and_method_is_in_the_openapi_document(app, client) -> None:  # type: ignore[no-untyped-def]

    document = client.get("/openapi.json").json
    # Every route a machine calls (the API, collect, webhooks, health), with each of its methods, Flask's and
    # those answered in front of it.
    machine = ("/api/", "/t/e", "/webhooks/", "/billing/webhook", "/healthz", "/readyz")
    machine_routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule, _ in routes(app)
        if rule.rule.startswith(machine)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert machine_routes <= documented
    assert len(machine_routes) >= 17
    assert {
        "/api/v1/reports/summary",
        "/api/v1/reports/sources/{source}",
        "/api/v1/reports/sources/{source}/{table}.csv",
        "/api/v1/purchases",
        "/api/v1/purchases/{id}",
    } <= set(document["paths"])
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert "200" in operation["responses"] or "204" in operation["responses"], path
            if path.startswith("/api/"):
                assert "401" in operation["responses"], path


def _visitor_keys(container) -> list[str]:  # type: ignore[no-untyped-def]
    container.gateways.job_queue().wait_until_idle()
    with container.gateways.engine().connect() as connection:
        return list(connection.execute(select(tables.visitors.c.visitor_key)).scalars())


def test_a_browser_that_keeps_no_id_gets_a_daily_pseudonymous_one(client, container, site_key: str) -> None:  # type: ignore[no-untyped-def]
    from core.domain.money import Money
    from core.domain.purchases import PurchaseRecord

    page = {"s": site_key, "n": "pageview", "u": "https://example.com/?utm_source=youtube"}
    same_browser = {**BROWSER, "Accept-Language": "en"}
    assert client.post("/t/e", data=json.dumps({**page, "i": "event0001"}), headers=same_browser).status_code == 204
    identify = {"s": site_key, "n": "identify", "i": "event0002", "u": "https://example.com/", "e": "b@example.com"}
    assert client.post("/t/e", data=json.dumps(identify), headers=same_browser).status_code == 204
    (key,) = _visitor_keys(container)
    assert key.startswith("d-")
    assert "127.0.0.1" not in key

    other_browser = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"}
    assert client.post("/t/e", data=json.dumps({**page, "i": "event0003"}), headers=other_browser).status_code == 204
    assert len(_visitor_keys(container)) == 2

    account_id = container.services.accounts().site(site_key).account_id
    container.services.purchases().ingest(
        account_id,
        [PurchaseRecord("csv", "p-1", Money(100, "USD"), datetime.now(UTC) + timedelta(seconds=1), "b@example.com")],
    )
    with container.gateways.unit_of_work() as uow:
        purchase = uow.purchases.get_by_platform_id(account_id, "csv", "p-1")
    assert purchase is not None
    assert (purchase.match_method, purchase.match_confidence) == (MatchMethod.EMAIL, DERIVED_VISITOR_CONFIDENCE)


def test_the_tracker_cannot_claim_a_server_made_id(client, container, site_key: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/t/e", data=json.dumps(_event(site_key, v="d-0123456789abcdef")), headers=BROWSER)
    assert response.status_code == 400
    assert "made by the server" in response.get_data(as_text=True)
    assert _stored(container) == 0
