"""The attribution engine at its edges: fingerprints at /t/e, salts, the simulator and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from dependency_injector import providers
from sqlalchemy import create_engine, func, insert, select, update

from adapters.jobs.synchronous import SynchronousJobQueue
from adapters.persistence import tables
from adapters.persistence.unit_of_work import SqlUnitOfWork
from adapters.simulator.playing import SimulatedClock, SimulationServices, simulate
from adapters.simulator.scenarios import SCENARIOS
from core.domain.attribution import RULES_VERSION, Model
from core.domain.reports import ReportRange
from core.services.fingerprints import FingerprintSalts
from coursesignal.cli import main

BROWSER = {
    "User-Agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 Chrome/130 Safari/537.36",
    "Accept-Language": "en-GB,en;q=0.8",
}


def test_collect_fingerprints_the_browser_and_never_keeps_its_address(client, container) -> None:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    site = accounts.add_site("creator@example.com", ["example.com"])
    container.gateways.job_queue.override(providers.Singleton(SynchronousJobQueue))
    for number, url in enumerate(("https://example.com/?utm_source=youtube", "https://example.com/offers/x/checkout")):
        body = {"s": site.public_key, "n": "pageview", "i": f"event000{number}", "v": "visitor01", "u": url}
        response = client.post(
            "/t/e", data=json.dumps(body), headers=BROWSER, environ_base={"REMOTE_ADDR": "203.0.113.77"}
        )
        assert response.status_code == 204
    container.gateways.job_queue.reset_override()
    with container.gateways.engine().connect() as connection:
        (reach,) = connection.execute(select(tables.checkout_reaches)).all()
        assert connection.execute(select(func.count()).select_from(tables.fingerprint_salts)).scalar_one() == 1
        stored = [
            str(value)
            for table in (tables.events, tables.sessions, tables.visitors, tables.checkout_reaches)
            for row in connection.execute(select(table))
            for value in row
        ]
    assert len(reach.fingerprint) == 32  # kept where the timing match needs it, and nowhere else
    assert "fingerprint" not in tables.sessions.c
    assert not any("203.0.113" in value for value in stored)


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now_value = now

    def now(self) -> datetime:
        return self.now_value


def test_a_salt_per_day_and_salts_older_than_48_hours_are_destroyed(database_url: str) -> None:
    from adapters.persistence.database import create_database_engine

    engine = create_database_engine(database_url)
    today = datetime(2026, 11, 3, 15, tzinfo=UTC)
    with engine.begin() as connection:
        for days in (1, 2, 3):
            day = (today - timedelta(days=days)).replace(hour=0)
            connection.execute(insert(tables.fingerprint_salts).values(day=day, salt=bytes([days]) * 16))
    clock = _Clock(today)
    salts = FingerprintSalts(lambda: SqlUnitOfWork(engine), clock)
    first = salts.current()
    assert salts.current() == first
    assert FingerprintSalts(lambda: SqlUnitOfWork(engine), clock).current() == first  # shared through the database
    with engine.connect() as connection:
        days_kept = sorted(connection.execute(select(tables.fingerprint_salts.c.day)).scalars())
    assert days_kept == [today.replace(hour=0) - timedelta(days=1), today.replace(hour=0)]
    clock.now_value = today + timedelta(days=1)
    assert salts.current() != first
    engine.dispose()


def test_simulated_revenue_is_conserved_in_the_reports(container) -> None:  # type: ignore[no-untyped-def]
    """Credited plus unmatched equals net revenue, per model and range, on SQLite and PostgreSQL."""
    clock = SimulatedClock()
    container.gateways.clock.override(providers.Object(clock))
    container.gateways.job_queue.override(providers.Singleton(SynchronousJobQueue))
    services = SimulationServices(
        accounts=container.services.accounts(),
        purchases=container.services.purchases(),
        tracking=container.services.tracking(),
        salts=container.services.fingerprint_salts(),
        uow=container.gateways.unit_of_work,
    )
    result = simulate(replace(SCENARIOS["default"], people=12, buyer_share=0.6), 7, services, clock)
    assert result.purchases > 0
    account = services.accounts.ensure_account("creator-default@coursesignal.test")
    reports = container.services.reports()
    with container.gateways.engine().connect() as connection:
        refunded = select(func.coalesce(func.sum(tables.refunds.c.amount), 0)).where(
            tables.refunds.c.purchase_id == tables.purchases.c.id
        )
        for report_range in ReportRange:
            since = report_range.since(clock.now())
            query = select(func.coalesce(func.sum(tables.purchases.c.amount - refunded.scalar_subquery()), 0)).where(
                tables.purchases.c.user_id == account.id, tables.purchases.c.purchased_at < clock.now()
            )
            if since is not None:
                query = query.where(tables.purchases.c.purchased_at >= since)
            net = int(connection.execute(query).scalar_one())
            for model in Model:
                report = reports.sources(account.id, report_range, model, "USD")
                assert sum(line.totals.revenue for line in report.lines) + report.unmatched.revenue == net
    container.gateways.clock.reset_override()
    container.gateways.job_queue.reset_override()


def _figures(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if not line.strip().startswith("("))


@pytest.mark.parametrize("scenario", ["stripe", "storage_blocked"])
def test_the_simulate_command_is_reproducible_and_http_gives_the_same_figures(scenario: str) -> None:
    """storage_blocked leaves `v` out, so over HTTP the endpoint derives the ids the simulator derives."""
    runner = CliRunner()
    args = ["simulate", "--scenario", scenario, "--people", "10", "--seed", "3"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "matched" in first.output
    assert "first touch right" in first.output
    again = runner.invoke(main, args)
    over_http = runner.invoke(main, [*args, "--http"])
    assert over_http.exit_code == 0, over_http.output
    assert _figures(again.output) == _figures(first.output) == _figures(over_http.output)
    unknown = runner.invoke(main, ["simulate", "--scenario", "nope"])
    assert unknown.exit_code == 1
    assert "coursesignal simulate --list" in unknown.output
    listed = runner.invoke(main, ["simulate", "--list"])
    assert all(name in listed.output for name in SCENARIOS)


def _embedded_with_one_purchase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COURSESIGNAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("COURSESIGNAL_DATABASE_URL", raising=False)
    monkeypatch.delenv("COURSESIGNAL_REDIS_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    created = runner.invoke(main, ["create-site", "creator@example.com", "--domain", "example.com"])
    site_key = created.output.split("Site key: ")[1].split()[0]
    purchases = tmp_path / "p.csv"
    purchases.write_text(
        "purchase_id,email,amount,currency,purchased_at\np1,a@example.com,10,USD,2026-01-01T00:00:00Z\n"
    )
    assert runner.invoke(main, ["import-purchases", str(purchases), "--site", site_key]).exit_code == 0
    return runner


def test_the_reattribute_command_reruns_history(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    runner = _embedded_with_one_purchase(tmp_path, monkeypatch)
    assert "Attributed 0 purchases again" in runner.invoke(main, ["reattribute"]).output
    everything = runner.invoke(main, ["reattribute", "--all", "--account", "Creator@Example.com"])
    assert "Attributed 1 purchases again" in everything.output
    missing = runner.invoke(main, ["reattribute", "--account", "nobody@example.com"])
    assert missing.exit_code == 1
    assert "No account for nobody@example.com" in missing.output


def test_the_embedded_app_brings_stored_attributions_up_to_the_current_rules_on_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gunicorn.app.base import BaseApplication

    runner = _embedded_with_one_purchase(tmp_path, monkeypatch)
    engine = create_engine(f"sqlite:///{tmp_path / 'instance' / 'coursesignal.db'}")
    with engine.begin() as connection:  # as a release with newer rules finds it
        connection.execute(update(tables.purchases).values(rules_version=RULES_VERSION - 1))
    monkeypatch.setattr(BaseApplication, "run", lambda self: None)  # start, but serve nothing
    started = runner.invoke(main, ["run", "--port", "1"])
    assert started.exit_code == 0, started.output
    assert f"Attributed 1 purchases again under rules version {RULES_VERSION}." in started.output
    with engine.connect() as connection:
        assert connection.execute(select(tables.purchases.c.rules_version)).scalars().all() == [RULES_VERSION]
    assert "Attributed" not in runner.invoke(main, ["run", "--port", "1"]).output  # nothing left to do
    engine.dispose()
