"""`coursesignal run --demo`: the demo account is filled once, through the real services, and its dashboard is full.

A reduced crowd keeps the test to seconds; the figures checked are those a first look depends on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from adapters.persistence.tables import purchases, users
from adapters.simulator.demo import DEMO_EMAIL
from coursesignal.cli import main
from coursesignal.demo import seed_demo
from tests.web_session import post_form

PASSWORD = "a demo passphrase"
PEOPLE = 150  # the default scenario's mix at a tenth of the demo's size: about 30 buyers


def _count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.usefixtures("database_url")
def test_the_demo_account_is_filled_once_and_signs_in_to_a_full_dashboard(request, settings) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    outcome = seed_demo(settings, password=PASSWORD, people=PEOPLE, now=now)
    assert outcome.created
    assert outcome.purchases >= 15
    assert outcome.hits > outcome.purchases * 5

    # The app is built after seeding, as `run --demo` builds it: its container wires the web functions.
    container = request.getfixturevalue("container")
    client = request.getfixturevalue("client")
    engine = container.gateways.engine()
    with engine.connect() as connection:
        stored = connection.execute(
            select(purchases.c.purchased_at).where(purchases.c.user_id == outcome.account_id)
        ).scalars()
        times = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in stored]
    assert len(times) == outcome.purchases
    assert max(times) < now, "every simulated purchase lies in the past"
    assert min(times) > now - timedelta(days=61)
    assert any(t > now - timedelta(days=7) for t in times), "the 7-day range has purchases"

    response = post_form(client, "/login", {"email": DEMO_EMAIL, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)

    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    page = dashboard.get_data(as_text=True)
    assert "Finish setting up" not in page
    for source in ("YouTube", "Instagram", "Google"):
        assert source in page

    report = client.get("/api/v1/reports/sources?range=30d").get_json()
    earning = [row for row in report["rows"] if row["revenue"] > 0]
    assert len(earning) >= 3, report["rows"]
    assert all(row["visitors"] > 0 for row in earning)
    assert client.get("/api/v1/reports/sources?range=7d").get_json()["rows"]

    counts = (_count(engine, users), _count(engine, purchases))
    again = seed_demo(settings, password=PASSWORD, people=PEOPLE)
    assert not again.created
    assert again.account_id == outcome.account_id
    assert (_count(engine, users), _count(engine, purchases)) == counts


def test_run_offers_the_demo_flag() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    assert "--demo" in result.output
    assert DEMO_EMAIL in result.output
