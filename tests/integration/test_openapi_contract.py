"""Schemathesis against /openapi.json, through the WSGI app: every operation, with data the document calls valid
(positive) and data it calls invalid (negative). No answer is a server error, every answer is one the document
lists with the body it describes, data the document calls valid is accepted, and a refusal stores nothing.

Bounded: a few cases per operation and mode, counted and printed with the run's figures.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from sqlalchemy import func, select

from adapters.persistence import tables as t
from tests.conftest import record_figure

CASES_PER_OPERATION = 5
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130 Safari/537.36"
FUZZ = settings(
    max_examples=CASES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
# The billing webhook authenticates with a signature over the body: no generated body carries a good one, so
# data the schema calls valid is still refused (400, documented). Every other check applies to it.
UNSIGNABLE = {"POST /billing/webhook"}
# A data subject request names exactly one of an email or a visitor id, and the email must be one we can
# normalise: OpenAPI cannot say "one of these two query parameters", and `format: email` admits addresses
# (quoted local parts, say) that we refuse with a documented 400. Every other check applies to them.
ONE_PERSON = {"GET /api/v1/privacy/export", "POST /api/v1/privacy/erase"}
WRITTEN_BY_EDGES = (t.inbound_events, t.events, t.visitors, t.webhook_deliveries, t.purchases)
CASES_RUN: dict[str, int] = {}
# One worker runs the whole module under pytest-xdist, so the figure counts every case of the run.
pytestmark = pytest.mark.xdist_group("openapi-contract")


@pytest.fixture(scope="module", autouse=True)
def report_cases() -> Iterator[None]:
    yield
    record_figure(
        "schemathesis cases",
        f"{sum(CASES_RUN.values())} over {len({key.split(' [')[0] for key in CASES_RUN})} operations",
    )


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the document does not change with the database, and test_hostile_input.py fuzzes the same
    edges on PostgreSQL too. Keeps the run bounded."""
    path = tmp_path / "coursesignal.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    # Billing configured (no Stripe server is needed to check a signature), so its webhook answers as in production.
    return replace(
        settings, stripe_secret_key="sk_test_contract", stripe_webhook_secret="whsec_contract", stripe_price_id="p"
    )


def _rows(container) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with container.gateways.engine().connect() as connection:
        return {
            table.name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            for table in WRITTEN_BY_EDGES
        }


def _operations(app) -> list[Any]:  # type: ignore[no-untyped-def]
    def with_a_client_address(environ: dict[str, Any], start_response: Any) -> Any:
        # Schemathesis' WSGI transport leaves REMOTE_ADDR out; every real server sets it.
        environ.setdefault("REMOTE_ADDR", "203.0.113.5")
        return app(environ, start_response)

    schema = schemathesis.openapi.from_wsgi("/openapi.json", with_a_client_address)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation: Any, mode: GenerationMode, token: str, container: Any) -> bool:
    """Runs the operation's cases; False when the document leaves no way to get it wrong."""
    excluded = [positive_data_acceptance] if operation.label in UNSIGNABLE | ONE_PERSON else []
    key = f"{operation.label} [{mode.value}]"
    headers = {"Authorization": f"Bearer {token}"} if operation.path.startswith("/api/") else {}
    if operation.path == "/t/e":
        headers["User-Agent"] = BROWSER  # what every browser sends; without it no visitor can be derived

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        CASES_RUN[key] = CASES_RUN.get(key, 0) + 1
        idle = container.gateways.job_queue().wait_until_idle  # an earlier accepted event's pipeline job
        idle()
        before = _rows(container)
        response = case.call(headers=headers)
        case.validate_response(response, excluded_checks=excluded, headers=headers)
        if response.status_code >= 400:
            idle()
            assert _rows(container) == before, f"{operation.label} refused with {response.status_code} but stored"

    try:
        run()
    except Unsatisfiable:
        # Nothing to get wrong: no parameter and no body (the health checks), so no negative case exists.
        assert mode is GenerationMode.NEGATIVE, operation.label
        return False
    return True


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_every_documented_operation_holds_to_its_document(app, container, mode: GenerationMode) -> None:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    accounts.add_site("creator@example.com", ["example.com"])
    token = accounts.issue_api_token("creator@example.com")
    operations = _operations(app)
    assert len(operations) >= 15
    nothing_to_negate = [op.label for op in operations if not _fuzz(op, mode, token, container)]
    assert set(nothing_to_negate) <= {"GET /healthz", "GET /readyz"}
