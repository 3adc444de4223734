"""The business metrics, walked through cohorts of accounts on a controllable clock: signup, script
installation, platform connection, trial, conversion, payment failure and cancellation; then the operator
page and `coursesignal metrics --json` must report exactly the figures worked out by hand below."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from dependency_injector import providers
from sqlalchemy import select, update

from adapters.persistence import tables as t
from adapters.platforms.hookspecs import hookimpl
from core.domain.connections import StoredDelivery
from core.domain.subscriptions import Subscription
from core.ports.platforms import (
    ConnectionCheck,
    CredentialField,
    PlatformAdapter,
    SyncProgress,
    WebhookBatch,
    WebhookDelivery,
)
from core.services.connections import ConnectionFailed
from coursesignal.cli import main
from coursesignal.cli_context import CliContext
from tests.conftest import sign_in
from tests.unit.fakes import FixedClock

BROWSER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130 Safari/537.36"}
PASSWORD = "a long enough passphrase 2026"
WRONG_KEY = "That key was refused. Copy it again from the school settings."
START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class _KeyedPlatform(PlatformAdapter):
    """Accepts the key "good" only; nothing to sync."""

    name = "keyed"
    display_name = "Keyed"
    credential_fields = (CredentialField("key", "Key"),)

    def check_credentials(self, credentials: Mapping[str, str]) -> ConnectionCheck:  # type: ignore[override]
        return ConnectionCheck(ok=True) if credentials.get("key") == "good" else ConnectionCheck(False, WRONG_KEY)

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        return WebhookBatch(event_id="none")

    def fetch_purchases(self, credentials: Mapping[str, str], since: datetime, progress: SyncProgress) -> Iterator:  # type: ignore[type-arg]
        return iter(())


class _KeyedPlugin:
    @hookimpl
    def coursesignal_platforms(self) -> list[PlatformAdapter]:
        return [_KeyedPlatform()]


def start_clock(container) -> FixedClock:  # type: ignore[no-untyped-def]
    """Set before the app starts, so every service reads the same controllable time."""
    clock = FixedClock(START)
    container.gateways.clock.override(providers.Object(clock))
    container.platforms.plugin_manager().register(_KeyedPlugin(), name="keyed")
    return clock


@pytest.fixture
def clock(container) -> FixedClock:  # type: ignore[no-untyped-def]
    return start_clock(container)


class _World:
    def __init__(self, app, container, clock: FixedClock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        self.app, self.container, self.clock, self.tmp_path = app, container, clock, tmp_path
        self.client = app.test_client()

    def at(self, moment: datetime) -> None:
        assert moment >= self.clock.now(), "the story runs forwards"
        self.clock.advance(seconds=(moment - self.clock.now()).total_seconds())

    def sign_up(self, name: str, moment: datetime) -> int:
        self.at(moment)
        accounts = self.container.services.accounts()
        account = accounts.create_verified_account(f"{name}@example.com", PASSWORD)
        accounts.add_site(f"{name}@example.com", [f"{name}.example.com"])
        return int(account.id)

    def visit(self, name: str, moment: datetime, number: int = 1) -> None:
        """The creator's tracker reports a pageview: the script is installed."""
        self.at(moment)
        with self.container.gateways.engine().connect() as connection:
            key = connection.execute(
                select(t.sites.c.public_key).join(t.users).where(t.users.c.email == f"{name}@example.com")
            ).scalar_one()
        event = {
            "s": key,
            "n": "pageview",
            "i": f"{name}-event-{number:04d}",
            "v": f"{name}-visitor",
            "u": f"https://{name}.example.com/",
        }
        assert self.client.post("/t/e", data=json.dumps(event), headers=BROWSER).status_code == 204
        self.container.gateways.job_queue().wait_until_idle()

    def connect(self, account_id: int, key: str, moment: datetime) -> None:
        self.at(moment)
        with contextlib.suppress(ConnectionFailed):  # a refused key is an attempt too
            self.container.services.connections().connect(account_id, "keyed", {"key": key})
        self.container.gateways.job_queue().wait_until_idle()

    def sale(self, account_id: int, name: str, moment: datetime, purchased_at: datetime, *, matched: bool) -> None:
        """A purchase imported from a CSV file; with the visitor id the tracker set, it is attributed."""
        self.at(moment)
        path = self.tmp_path / f"{name}-{purchased_at:%m%d}.csv"
        visitor = f"{name}-visitor" if matched else ""
        path.write_text(
            "purchase_id,email,amount,currency,purchased_at,course_name,visitor_id\n"
            f"{name}-{purchased_at:%m%d},buyer@{name}.example.com,49.00,USD,{purchased_at.isoformat()},Course,{visitor}\n"
        )
        self.container.services.purchases().import_from_platform(
            account_id, "csv", {"path": str(path)}, datetime(1970, 1, 1, tzinfo=UTC), lambda done, total: None
        )

    def stripe_status(
        self, account_id: int, status: str, moment: datetime, *, cancel_at_period_end: bool = False
    ) -> None:
        """What a customer.subscription.* event from Stripe leaves stored for the account."""
        self.at(moment)
        with self.container.gateways.unit_of_work() as uow:
            current = uow.billing.get(account_id) or Subscription(account_id, f"cus_{account_id}", f"sub_{account_id}")
            uow.billing.save(
                replace(
                    current,
                    stripe_status=status,
                    cancel_at_period_end=cancel_at_period_end,
                    current_period_end=moment + timedelta(days=30),
                    status_as_of=moment,
                )
            )
            uow.commit()


def _walk(world: _World) -> None:
    """September: ana, ben, cat sign up; October: dan; November: eve (still in her trial at NOW).

    script:    ana after 2 h, ben after 30 h (late), cat never, dan after 1 h, eve after 1 h
    connect:   ana first try; ben fails twice (wrong key) then succeeds; dan fails once and gives up
    billing:   ana active Sep 10, canceled Oct 15; ben active Sep 12 (cancels at period end in Nov, still
               paying); cat never pays (trial expired); dan active Oct 20, past due Nov 3; eve trialing
    sales:     ana's first attributed sale 3 days after signup, ben's after 10 days (plus one unmatched
               sale earlier, not counted), dan's first after 2 days
    """
    sep, octo, nov = START, datetime(2026, 10, 5, 9, 0, tzinfo=UTC), datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    ana = world.sign_up("ana", sep)
    ben = world.sign_up("ben", sep + timedelta(minutes=10))
    world.visit("ana", sep + timedelta(hours=2))
    world.connect(ana, "good", sep + timedelta(hours=3))
    world.connect(ben, "bad", sep + timedelta(hours=4))
    world.connect(ben, "worse", sep + timedelta(hours=5))
    world.connect(ben, "good", sep + timedelta(hours=6))
    assert world.sign_up("cat", sep + timedelta(days=1))
    world.visit("ben", sep + timedelta(minutes=10, hours=30))
    world.sale(ben, "ben", sep + timedelta(days=2), sep + timedelta(days=2), matched=False)
    world.sale(ana, "ana", sep + timedelta(days=3), sep + timedelta(days=3), matched=True)
    world.stripe_status(ana, "active", datetime(2026, 9, 10, tzinfo=UTC))
    world.sale(ben, "ben", sep + timedelta(minutes=10, days=10), sep + timedelta(minutes=10, days=10), matched=True)
    world.stripe_status(ben, "active", datetime(2026, 9, 12, tzinfo=UTC))

    dan = world.sign_up("dan", octo)
    world.visit("dan", octo + timedelta(hours=1))
    world.connect(dan, "bad", octo + timedelta(hours=2))
    world.sale(dan, "dan", octo + timedelta(days=2), octo + timedelta(days=2), matched=True)
    world.stripe_status(ana, "canceled", datetime(2026, 10, 15, tzinfo=UTC))
    world.stripe_status(dan, "active", datetime(2026, 10, 20, tzinfo=UTC))

    world.stripe_status(dan, "past_due", datetime(2026, 11, 3, tzinfo=UTC))
    world.stripe_status(ben, "active", datetime(2026, 11, 5, tzinfo=UTC), cancel_at_period_end=True)
    eve = world.sign_up("eve", nov)
    world.visit("eve", nov + timedelta(hours=1))
    assert eve
    # One webhook delivery on ana's connection failed every attempt (a dead letter) on Nov 24.
    with world.container.gateways.engine().connect() as connection:
        connection_id = connection.execute(
            select(t.platform_integrations.c.id).where(t.platform_integrations.c.user_id == ana)
        ).scalar_one()
    with world.container.gateways.unit_of_work() as uow:
        delivery = uow.webhook_deliveries.add(
            StoredDelivery(connection_id, "evt-1", b"{}", {}, datetime(2026, 11, 24, tzinfo=UTC))
        )
        uow.commit()
    assert delivery is not None
    with world.container.gateways.engine().begin() as connection:
        connection.execute(
            update(t.webhook_deliveries)
            .where(t.webhook_deliveries.c.id == delivery.id)
            .values(attempts=5, failed_at=datetime(2026, 11, 24, 1, tzinfo=UTC), last_error="Timed out")
        )
    world.at(NOW)


EXPECTED = {
    "since": "2026-09-01",
    # ana canceled; ben active (ending with his period); cat's trial expired: canceled; dan past due; eve trialing
    "accounts_by_state": {"trialing": 1, "active": 1, "past_due": 1, "canceled": 2},
    "paid_accounts": 2,  # ben (active) and dan (past due: still being charged)
    "mrr": {"amount": 19800, "currency": "USD"},
    "trial_to_paid": {
        "rate": 0.6,  # ana, ben, dan of five trials
        "cohorts": [
            {"month": "2026-09", "trials": 3, "paid": 2, "rate": 0.6667},
            {"month": "2026-10", "trials": 1, "paid": 1, "rate": 1.0},
            {"month": "2026-11", "trials": 1, "paid": 0, "rate": 0.0},
        ],
    },
    "monthly_churn": [
        {"month": "2026-09", "paying_at_start": 0, "churned": 0, "rate": None},
        {"month": "2026-10", "paying_at_start": 2, "churned": 1, "rate": 0.5},  # ana left in October
        {"month": "2026-11", "paying_at_start": 2, "churned": 0, "rate": 0.0},  # ben and dan
    ],
    "script_within_24h": {"accounts": 5, "within_24h": 3, "rate": 0.6},  # ana, dan, eve; ben late, cat never
    "connections": {
        "rate": 0.4,  # 2 of 5 attempts
        "first_try_rate": 0.3333,  # ana yes; ben and dan no
        "platforms": [
            {
                "platform": "keyed",
                "attempts": 5,
                "succeeded": 2,
                "rate": 0.4,
                "first_tries": 3,
                "first_try_succeeded": 1,
                "first_try_rate": 0.3333,
                "common_errors": [{"error": WRONG_KEY, "count": 3}],
            }
        ],
    },
    "median_hours_to_first_attributed_purchase": 72.0,  # 48 (dan), 72 (ana), 240 (ben)
    "failed_deliveries": {"waiting": 1, "accounts": 1, "since": 1},
}


def test_cohorts_walked_on_the_clock_give_the_exact_figures_on_the_page_and_in_json(
    clock, app, container, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    world = _World(app, container, clock, tmp_path)
    _walk(world)

    context = CliContext()
    context._settings, context._container = settings, container
    result = CliRunner().invoke(main, ["metrics", "--since", "2026-09-01", "--json"], obj=context)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    for key, expected in EXPECTED.items():
        assert figures[key] == expected, key
    days = {d["day"]: (d["events"], d["purchases"]) for d in figures["per_day"]}
    assert len(days) == 86  # Sep 1 .. Nov 25
    assert days["2026-09-01"] == (1, 0)  # ana's visit (ben's came on Sep 2)
    assert days["2026-09-02"] == (1, 0)
    assert days["2026-09-03"] == (0, 1)  # ben's unmatched sale
    assert sum(e for e, _ in days.values()) == 4
    assert sum(p for _, p in days.values()) == 4
    goals = {g["goal"]: (g["value"], g["met"]) for g in figures["goals"]}
    assert goals == {
        "Paid accounts": (2, False),
        "Monthly churn (last whole month)": (0.5, False),  # October: November is not over
        "Trial to paid": (0.6, True),
        "Script within 24 hours": (0.6, False),
        "Connections succeeding": (0.4, False),
    }

    text_report = CliRunner().invoke(main, ["metrics", "--since", "2026-09-01"], obj=context)
    assert text_report.exit_code == 0, text_report.output
    for line in (
        "Accounts: trialing 1, active 1, past due 1, canceled 2",
        "MRR: 198.00 USD",
        "  Trial to paid: 60.0% (goal 25%: met)",
        "  Monthly churn (last whole month): 50.0% (goal < 5%: not met)",
        "  signed up 2026-09: 2 of 3 trials paid",
        "  churn 2026-10: 1 of 2 paying accounts",
        f"  keyed: 2 of 5 attempts succeeded, 1 of 3 first tries; errors: {WRONG_KEY} (3)",
        "Median signup to first attributed purchase: 72.0 h",
        "Failed deliveries waiting: 1 on 1 accounts (1 since)",
    ):
        assert line in text_report.output.splitlines(), line
    refused = CliRunner().invoke(main, ["metrics", "--since", "last week"], obj=context)
    assert refused.exit_code != 0
    assert "'last week' does not match the format '%Y-%m-%d'" in refused.output

    # The page shows the same figures to an operator.
    operator = app.test_client()
    sign_in(operator, container, "olga@example.com")
    container.services.accounts().grant_operator("olga@example.com")
    page = operator.get("/operator/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-state="trialing">1<' in text  # eve: the operator's own account is not a customer
    assert 'data-state="past_due">1<' in text
    assert "198.00 USD" in text
    assert "3 of 5 accounts (60.0%)" in text
    assert "1 of 3 (33.3%)" in text
    assert "2 of 5 (40.0%)" in text
    assert f"{WRONG_KEY} (3)" in text
    assert "72.0 hours" in text
    assert "1 on 1 accounts" in text
    assert '<tr><th scope="row">2026-10</th><td>2</td><td>1</td><td>50.0%</td></tr>' in text
    assert text.count("<svg") == 4
    assert "style=" not in text
    assert "<script>" not in text
