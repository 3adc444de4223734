"""The business metrics, walked through cohorts of accounts on a controllable clock: signup, script
installation, platform connection, trial, the beta program, conversion, payment failure and cancellation, every
subscription change made by Stripe's signed events through the real webhook endpoint (the fake Stripe runs on
the same clock); then the operator page and `coursesignal metrics --json` must report exactly the figures
worked out by hand below."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dependency_injector import providers
from sqlalchemy import select, update

from adapters.persistence import tables as t
from adapters.platforms.hookspecs import hookimpl
from core.domain.connections import StoredDelivery
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
from tests.fakes.stripe import FakeStripe
from tests.integration.billing_world import PRICE_ID, billed_settings
from tests.unit.fakes import FixedClock
from tests.web_session import post_form

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


@pytest.fixture
def story_clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def fake_stripe(story_clock: FixedClock) -> Iterator[FakeStripe]:
    """The fake Stripe on the story's clock: its events are dated as the app's clock reads them."""
    with FakeStripe(clock=lambda: story_clock.now().timestamp()) as fake:
        fake.add_price(PRICE_ID, unit_amount=9900, currency="usd")
        yield fake


@pytest.fixture
def settings(settings, fake_stripe: FakeStripe):  # type: ignore[no-untyped-def]
    return billed_settings(settings, fake_stripe)


@pytest.fixture
def clock(container, story_clock: FixedClock) -> FixedClock:  # type: ignore[no-untyped-def]
    """Set before the app starts, so every service reads the same controllable time."""
    container.gateways.clock.override(providers.Object(story_clock))
    container.platforms.plugin_manager().register(_KeyedPlugin(), name="keyed")
    return story_clock


class _World:
    def __init__(self, app, container, clock: FixedClock, fake: FakeStripe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        self.app, self.container, self.clock, self.fake, self.tmp_path = app, container, clock, fake, tmp_path
        self.client = app.test_client()
        self.clients: dict[str, Any] = {}
        self.subscriptions: dict[str, str] = {}

    def at(self, moment: datetime) -> None:
        assert moment >= self.clock.now(), "the story runs forwards"
        self.clock.advance(seconds=(moment - self.clock.now()).total_seconds())

    def as_(self, name: str) -> Any:
        """The creator's browser, signed in afresh (sessions end when idle, and the story skips days)."""
        client = self.clients.setdefault(name, self.app.test_client())
        sign_in(client, self.container, f"{name}@example.com")
        return client

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

    def open(self, name: str, path: str, moment: datetime) -> None:
        """The creator opens a page of the app (feature usage counts it)."""
        self.at(moment)
        response = self.as_(name).get(path)
        assert response.status_code == 200, f"{path}: {response.status_code}"

    # --- billing, the way Stripe and a browser do it -----------------------------------------------------

    def deliver(self, name: str, events: list[dict[str, Any]]) -> None:
        """Stripe's events, signed with the endpoint secret, through the real webhook endpoint."""
        for event in events:
            body, headers = self.fake.sign(event)
            response = self.client.post("/billing/webhook", data=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json["outcome"] != "unknown_customer", (name, event["type"])

    def subscribe(self, name: str, moment: datetime) -> dict[str, Any]:
        """Checkout from the Billing page, paid at Stripe: returns the Checkout Session's subscription_data."""
        self.at(moment)
        response = post_form(self.as_(name), "/billing/checkout", {}, form_page="/billing")
        assert response.status_code == 303, response.text
        session_id = response.headers["Location"].rsplit("/", 1)[1]
        sent = self.fake.calls("POST", "/v1/checkout/sessions")[-1].params["subscription_data"]
        events = self.fake.complete_checkout(session_id)
        self.subscriptions[name] = str(events[-1]["data"]["object"]["subscription"])
        self.deliver(name, events)
        return dict(sent)

    def stripe(self, name: str, act: str, moment: datetime) -> None:
        """Something happens at Stripe (a payment, a failure, a cancellation) and its events are delivered."""
        self.at(moment)
        self.deliver(name, getattr(self.fake, act)(self.subscriptions[name]))

    def status(self, name: str) -> str | None:
        with self.container.gateways.engine().connect() as connection:
            return connection.execute(
                select(t.billing_subscriptions.c.stripe_status)
                .join(t.users, t.users.c.id == t.billing_subscriptions.c.user_id)
                .where(t.users.c.email == f"{name}@example.com")
            ).scalar_one_or_none()


def _walk(world: _World, operator: Any, cli: Any) -> None:
    """September: ana, ben, cat, gus sign up; October: dan, fay; November: eve (in her trial at NOW).

    script:    ana after 2 h, ben after 30 h (late), cat never, dan after 1 h, eve after 1 h, gus after 3 h,
               fay never
    connect:   ana first try; ben fails twice (wrong key) then succeeds; dan fails once and gives up; gus first try
    billing:   every change comes from Stripe's signed events. ana subscribes in her trial (Sep 10, charged when
               it ends Sep 15), ends Oct 15; ben subscribes Sep 12 (charged Sep 15), cancels at period end Nov 5
               (still paying); cat never pays (trial expired); dan subscribes after his trial (Oct 20, charged at
               once), his renewal fails Nov 3 (past due); eve trialing
    beta:      fay invited Sep 20 before signing up (Oct 1: 60 days free, to Nov 30), subscribes Nov 10: Checkout
               waits for Nov 30; gus signed up Sep 5, marked beta from the console Sep 10 (free to Nov 4), asks for
               setup help Sep 11 (closed Sep 12), answers the prompt Sep 17 and Sep 24, consents to a testimonial
               Oct 1, subscribes Oct 30 and is charged Nov 4; fay asks for help Oct 2 (open), answers Oct 8,
               consents Oct 9 and withdraws Oct 20; hal invited Nov 1, never signed up
    sales:     ana's first attributed sale 3 days after signup, ben's after 10 days (plus one unmatched
               sale earlier, not counted), dan's first after 2 days
    usage:     ana opens the dashboard twice on Sep 4 and once on Sep 5, by channel, a source's drill-down and
               the sources CSV on Sep 4; ben the dashboard, the purchases list and a purchase on Sep 12; gus the
               dashboard three times on Sep 17 and on Sep 24 (the prompt, its form, after answering)
    """
    sep, octo, nov = START, datetime(2026, 10, 5, 9, 0, tzinfo=UTC), datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    day = timedelta(days=1)
    ana = world.sign_up("ana", sep)
    ben = world.sign_up("ben", sep + timedelta(minutes=10))
    world.visit("ana", sep + timedelta(hours=2))
    world.connect(ana, "good", sep + timedelta(hours=3))
    world.connect(ben, "bad", sep + timedelta(hours=4))
    world.connect(ben, "worse", sep + timedelta(hours=5))
    world.connect(ben, "good", sep + timedelta(hours=6))
    assert world.sign_up("cat", sep + day)
    world.visit("ben", sep + timedelta(minutes=10, hours=30))
    world.sale(ben, "ben", sep + 2 * day, sep + 2 * day, matched=False)
    world.sale(ana, "ana", sep + 3 * day, sep + 3 * day, matched=True)
    for path in ("/dashboard", "/dashboard", "/dashboard?group=channel", "/dashboard/sources/Direct"):
        world.open("ana", path, sep + 3 * day + timedelta(hours=1))
    world.open("ana", "/api/v1/reports/sources.csv", sep + 3 * day + timedelta(hours=2))
    world.open("ana", "/dashboard", sep + 4 * day)
    gus = world.sign_up("gus", sep + 4 * day)
    world.visit("gus", sep + 4 * day + timedelta(hours=3))
    world.connect(gus, "good", sep + 4 * day + timedelta(hours=4))

    # Sep 10: ana subscribes 5 days before her trial ends; gus is marked beta from the console.
    assert world.subscribe("ana", datetime(2026, 9, 10, 9, tzinfo=UTC))["trial_end"] == str(
        int((sep + 14 * day).timestamp())
    )
    world.at(datetime(2026, 9, 10, 10, tzinfo=UTC))
    marked = post_form(operator(), "/operator/beta/invite", {"email": "gus@example.com"}, form_page="/operator/beta")
    assert marked.status_code == 302
    post_form(world.as_("gus"), "/beta/setup-help", {"message": "Check my checkout pages"}, form_page="/beta")
    world.sale(ben, "ben", sep + timedelta(minutes=10, days=10), sep + timedelta(minutes=10, days=10), matched=True)
    world.at(datetime(2026, 9, 12, 8, tzinfo=UTC))
    page = operator().get("/operator/beta").text
    (request_id,) = re.findall(r'name="request_id" value="(\d+)"', page)
    post_form(operator(), "/operator/beta/setup-help/close", {"request_id": request_id}, form_page="/operator/beta")
    world.subscribe("ben", datetime(2026, 9, 12, 9, tzinfo=UTC))
    for path in ("/dashboard", "/purchases", "/dashboard/purchases/3"):
        world.open("ben", path, datetime(2026, 9, 12, 10, tzinfo=UTC))
    world.stripe("ana", "pay_invoice", datetime(2026, 9, 15, 9, tzinfo=UTC))  # her trial ended: charged
    world.stripe("ben", "pay_invoice", datetime(2026, 9, 15, 10, tzinfo=UTC))
    assert (world.status("ana"), world.status("ben")) == ("active", "active")
    for answered in (datetime(2026, 9, 17, 10, tzinfo=UTC), datetime(2026, 9, 24, 10, tzinfo=UTC)):
        if answered.day == 24:
            world.at(datetime(2026, 9, 20, 9, tzinfo=UTC))
            invited = cli("beta", "invite", "fay@example.com")
            assert "fay@example.com is invited" in invited.output
        world.at(answered)  # a week after joining, then a week after the last answer: the prompt is back
        gus_client = world.as_("gus")
        assert 'id="beta-feedback-prompt"' in gus_client.get("/dashboard").text
        feedback = {"confusing": f"Week of {answered:%b %d}", "missing_report": "Refunds by source"}
        post_form(gus_client, "/beta/feedback", {**feedback, "back_to": "dashboard"}, form_page="/dashboard")
        assert 'id="beta-feedback-prompt"' not in gus_client.get("/dashboard").text

    fay = world.sign_up("fay", datetime(2026, 10, 1, 9, tzinfo=UTC))
    world.at(datetime(2026, 10, 1, 10, tzinfo=UTC))
    post_form(world.as_("gus"), "/beta/testimonial", {"consent": "y"}, form_page="/beta")
    world.at(datetime(2026, 10, 2, 9, tzinfo=UTC))
    post_form(world.as_("fay"), "/beta/setup-help", {"message": "Kajabi"}, form_page="/beta")
    dan = world.sign_up("dan", octo)
    world.visit("dan", octo + timedelta(hours=1))
    world.connect(dan, "bad", octo + timedelta(hours=2))
    world.sale(dan, "dan", octo + 2 * day, octo + 2 * day, matched=True)
    world.at(datetime(2026, 10, 8, 10, tzinfo=UTC))
    post_form(world.as_("fay"), "/beta/feedback", {"missing_report": "Cohorts"}, form_page="/beta")
    world.at(datetime(2026, 10, 9, 10, tzinfo=UTC))
    post_form(world.as_("fay"), "/beta/testimonial", {"consent": "y"}, form_page="/beta")
    world.stripe("ana", "end_subscription", datetime(2026, 10, 15, tzinfo=UTC))
    world.at(datetime(2026, 10, 20, 8, tzinfo=UTC))
    post_form(world.as_("fay"), "/beta/testimonial", {}, form_page="/beta")
    assert "trial_end" not in world.subscribe("dan", datetime(2026, 10, 20, tzinfo=UTC) + timedelta(hours=9))
    assert world.status("dan") == "active"  # his trial was over: charged at once
    beta_end_gus = datetime(2026, 9, 5, 9, tzinfo=UTC) + 60 * day
    assert world.subscribe("gus", datetime(2026, 10, 30, 9, tzinfo=UTC))["trial_end"] == str(
        int(beta_end_gus.timestamp())
    )

    assert cli("beta", "invite", "hal@example.com").exit_code == 0
    world.stripe("dan", "fail_payment", datetime(2026, 11, 3, tzinfo=UTC))
    world.stripe("gus", "pay_invoice", beta_end_gus + timedelta(hours=1))  # the beta's 60 days are over
    world.stripe("ben", "cancel_at_period_end", datetime(2026, 11, 5, tzinfo=UTC))
    beta_end_fay = datetime(2026, 10, 1, 9, tzinfo=UTC) + 60 * day
    assert world.subscribe("fay", datetime(2026, 11, 10, 9, tzinfo=UTC))["trial_end"] == str(
        int(beta_end_fay.timestamp())
    )
    assert (world.status("dan"), world.status("gus"), world.status("fay")) == ("past_due", "active", "trialing")
    eve = world.sign_up("eve", nov)
    world.visit("eve", nov + timedelta(hours=1))
    assert eve
    assert fay
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
    # ana canceled; ben active (ending with his period); cat's trial expired: canceled; dan past due; eve
    # trialing; fay active (a paid plan in her beta's free days); gus active
    "accounts_by_state": {"trialing": 1, "active": 3, "past_due": 1, "canceled": 2},
    "paid_accounts": 3,  # ben and gus (active), dan (past due: still being charged); fay's first charge is Nov 30
    "mrr": {"amount": 29700, "currency": "USD"},
    "trial_to_paid": {
        "rate": 0.5714,  # ana, ben, dan, gus of seven trials
        "cohorts": [
            {"month": "2026-09", "trials": 4, "paid": 3, "rate": 0.75},  # ana, ben, gus; not cat
            {"month": "2026-10", "trials": 2, "paid": 1, "rate": 0.5},  # dan; fay not charged yet
            {"month": "2026-11", "trials": 1, "paid": 0, "rate": 0.0},
        ],
    },
    "monthly_churn": [
        {"month": "2026-09", "paying_at_start": 0, "churned": 0, "rate": None},
        {"month": "2026-10", "paying_at_start": 2, "churned": 1, "rate": 0.5},  # ana left in October
        {"month": "2026-11", "paying_at_start": 2, "churned": 0, "rate": 0.0},  # ben and dan; gus came later
    ],
    # ana, dan, eve, gus; ben late; cat and fay never
    "script_within_24h": {"accounts": 7, "within_24h": 4, "rate": 0.5714},
    "connections": {
        "rate": 0.5,  # 3 of 6 attempts
        "first_try_rate": 0.5,  # ana and gus yes; ben and dan no
        "platforms": [
            {
                "platform": "keyed",
                "attempts": 6,
                "succeeded": 3,
                "rate": 0.5,
                "first_tries": 4,
                "first_try_succeeded": 2,
                "first_try_rate": 0.5,
                "common_errors": [{"error": WRONG_KEY, "count": 3}],
            }
        ],
    },
    "median_hours_to_first_attributed_purchase": 72.0,  # 48 (dan), 72 (ana), 240 (ben)
    "failed_deliveries": {"waiting": 1, "accounts": 1, "since": 1},
    "beta": {
        "invited": 3,  # fay, gus, hal
        "joined": 2,  # hal never signed up
        "paid": 1,  # gus; fay's plan has not charged yet
        "paid_rate": 0.5,
        "setup_help": {"open": 1, "closed": 1},  # fay's is open, gus's closed
        "feedback": {"answers": 3, "accounts": 2},
        "testimonial_consents": 1,  # gus; fay withdrew hers
    },
    "feature_usage": [
        {"feature": "dashboard", "accounts": 3, "uses": 10, "account_days": 5},  # ana 3 on 2 days, ben 1, gus 6 on 2
        {"feature": "dashboard_by_channel", "accounts": 1, "uses": 1, "account_days": 1},
        {"feature": "purchase_drill_down", "accounts": 1, "uses": 1, "account_days": 1},
        {"feature": "purchases_list", "accounts": 1, "uses": 1, "account_days": 1},
        {"feature": "source_drill_down", "accounts": 1, "uses": 1, "account_days": 1},
        {"feature": "sources_csv", "accounts": 1, "uses": 1, "account_days": 1},
    ],
}


def _cli(settings, container):  # type: ignore[no-untyped-def]
    context = CliContext()
    context._settings, context._container = settings, container
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), obj=context)


def walk_the_story(app, container, clock, fake_stripe, settings, tmp_path) -> _World:  # type: ignore[no-untyped-def]
    """The whole walk of _walk, with olga as the operator; also run by tests/e2e/test_operator_console.py."""
    world = _World(app, container, clock, fake_stripe, tmp_path)
    world.as_("olga")
    container.services.accounts().grant_operator("olga@example.com")
    _walk(world, lambda: world.as_("olga"), _cli(settings, container))
    return world


def test_cohorts_walked_on_the_clock_give_the_exact_figures_on_the_page_and_in_json(
    clock, app, container, settings, fake_stripe, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    world = walk_the_story(app, container, clock, fake_stripe, settings, tmp_path)
    cli = _cli(settings, container)

    def operator() -> Any:
        return world.as_("olga")

    result = cli("metrics", "--since", "2026-09-01", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    for key, expected in EXPECTED.items():
        assert figures[key] == expected, key
    days = {d["day"]: (d["events"], d["purchases"]) for d in figures["per_day"]}
    assert len(days) == 86  # Sep 1 .. Nov 25
    assert days["2026-09-01"] == (1, 0)  # ana's visit (ben's came on Sep 2)
    assert days["2026-09-02"] == (1, 0)
    assert days["2026-09-03"] == (0, 1)  # ben's unmatched sale
    assert days["2026-09-05"] == (1, 0)  # gus's visit
    assert sum(e for e, _ in days.values()) == 5
    assert sum(p for _, p in days.values()) == 4
    goals = {g["goal"]: (g["value"], g["met"]) for g in figures["goals"]}
    assert goals == {
        "Paid accounts": (3, False),
        "Monthly churn (last whole month)": (0.5, False),  # October: November is not over
        "Trial to paid": (0.5714, True),
        "Script within 24 hours": (0.5714, False),
        "Connections succeeding": (0.5, False),
    }

    text_report = cli("metrics", "--since", "2026-09-01")
    assert text_report.exit_code == 0, text_report.output
    for line in (
        "Accounts: trialing 1, active 3, past due 1, canceled 2",
        "MRR: 297.00 USD",
        "  Trial to paid: 57.1% (goal 25%: met)",
        "  Monthly churn (last whole month): 50.0% (goal < 5%: not met)",
        "  signed up 2026-09: 3 of 4 trials paid",
        "  churn 2026-10: 1 of 2 paying accounts",
        f"  keyed: 3 of 6 attempts succeeded, 2 of 4 first tries; errors: {WRONG_KEY} (3)",
        "Median signup to first attributed purchase: 72.0 h",
        "Failed deliveries waiting: 1 on 1 accounts (1 since)",
        "Beta: 3 invited, 2 joined, 1 paid; setup help 1 open, 1 closed; 3 feedback answers from 2 members; "
        "1 testimonial consents",
        "  used dashboard: 10 times by 3 accounts on 5 account-days",
        "  used sources_csv: 1 times by 1 accounts on 1 account-days",
    ):
        assert line in text_report.output.splitlines(), line
    # The beta's figures are not limited to the period; feature usage is (nothing was used on Nov 25).
    late = json.loads(cli("metrics", "--since", "2026-11-25", "--json").output)
    assert (late["beta"], late["feature_usage"]) == (EXPECTED["beta"], [])
    refused = cli("metrics", "--since", "last week")
    assert refused.exit_code != 0
    assert "'last week' does not match the format '%Y-%m-%d'" in refused.output

    # The page shows the same figures to an operator.
    page = operator().get("/operator/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-state="trialing">1<' in text  # eve: the operator's own account is not a customer
    assert 'data-state="active">3<' in text
    assert 'data-state="past_due">1<' in text
    assert "297.00 USD" in text
    assert "4 of 7 accounts (57.1%)" in text
    assert "2 of 4 (50.0%)" in text
    assert "3 of 6 (50.0%)" in text
    assert f"{WRONG_KEY} (3)" in text
    assert "72.0 hours" in text
    assert "1 on 1 accounts" in text
    assert '<tr><th scope="row">2026-09</th><td>4</td><td>3</td><td>75.0%</td></tr>' in text
    assert '<tr><th scope="row">2026-10</th><td>2</td><td>1</td><td>50.0%</td></tr>' in text
    assert "3 invited, 2 joined, 1 of them paid (50.0%)" in text
    assert "setup help: 1 open, 1 closed; 3 feedback" in " ".join(text.split())
    assert (
        '<th scope="row" data-label="Feature">Dashboard by source</th><td data-label="Accounts">3</td>'
        '<td data-label="Account-days">5</td><td data-label="Uses">10</td>'
    ) in text
    assert "Sources CSV export" in text
    assert text.count("<svg") == 4
    assert "style=" not in text
    assert "<script>" not in text

    beta_page = " ".join(operator().get("/operator/beta").get_data(as_text=True).split())
    assert "3 invited, 2 joined; 1 setup help request open; 1 testimonial consent." in beta_page
    for shown in (
        "Week of Sep 17",
        "Week of Sep 24",
        "Cohorts",
        "Not signed up yet",
        "Given 2026-10-01",
        "Withdrawn 2026-10-20",
        "Closed 2026-09-12",
    ):
        assert shown in beta_page, shown

    # A creator gets 404 on every operator route, the beta ones included.
    ana = world.as_("ana")
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("operator."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert ana.open(rule.rule, method=method).status_code == 404, rule.rule
