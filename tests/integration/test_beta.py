"""The beta program through the real app: invitations before signup, creators marked mid-trial, Stripe
Checkout charging only after the 60 free days (the fake Stripe refuses a trial_end as Stripe does), and the
beta-ending email sent once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from adapters.persistence import tables as t
from coursesignal.cli import main
from coursesignal.cli_context import CliContext
from tests.fakes.stripe import FakeStripe
from tests.integration.billing_world import Creator, billed_settings
from tests.web_session import (
    PASSWORD,
    last_mail_to,
    links_in,
    mail_body,
    outbox_messages,
    path_of,
    post_form,
    sign_up_and_verify,
)


@pytest.fixture
def settings(settings, fake_stripe: FakeStripe):  # type: ignore[no-untyped-def]
    return billed_settings(settings, fake_stripe)


@pytest.fixture
def cli(settings, container):  # type: ignore[no-untyped-def]
    context = CliContext()
    context._settings, context._container = settings, container
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), obj=context)


def _user(container: Any, email: str) -> Any:
    with container.gateways.engine().connect() as connection:
        return connection.execute(select(t.users).where(t.users.c.email == email)).one()


def _days_into_trial(container: Any, account_id: int, days: float) -> datetime:
    """The account confirmed its address `days` ago and has the usual 14-day trial; returns when it started."""
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)
    with container.gateways.engine().begin() as connection:
        connection.execute(
            update(t.users)
            .where(t.users.c.id == account_id)
            .values(email_verified_at=started, trial_ends_at=started + timedelta(days=14))
        )
    return started


def test_an_address_invited_before_signup_gets_60_days_from_confirming_it(app, container, settings, cli) -> None:  # type: ignore[no-untyped-def]
    invited = cli("beta", "invite", "Bea@Example.com")
    assert invited.exit_code == 0, invited.output
    assert "bea@example.com is invited" in invited.output
    invitation = last_mail_to(settings.outbox_path, "bea@example.com")
    assert invitation["Subject"] == "Welcome to the CourseSignal beta"
    assert path_of(links_in(invitation)[0]) == "/signup"
    assert "nothing changed" in cli("beta", "invite", "bea@example.com").output
    assert len([m for m in outbox_messages(settings.outbox_path) if m["To"] == "bea@example.com"]) == 1

    bea, other = app.test_client(), app.test_client()
    sign_up_and_verify(bea, settings.outbox_path, "bea@example.com")
    sign_up_and_verify(other, settings.outbox_path, "otto@example.com")
    user = _user(container, "bea@example.com")
    assert user.trial_ends_at == user.email_verified_at + timedelta(days=60)
    assert "60 days left" in bea.get("/billing").text
    assert "14 days left" in other.get("/billing").text
    assert _user(container, "otto@example.com").trial_ends_at == _user(
        container, "otto@example.com"
    ).email_verified_at + timedelta(days=14)


def test_a_creator_marked_mid_trial_gets_60_days_from_the_trial_start_and_checkout_charges_after_them(
    client, container, fake_stripe: FakeStripe, settings, cli
) -> None:  # type: ignore[no-untyped-def]
    creator = Creator(client, container, fake_stripe)
    started = _days_into_trial(container, creator.account_id, 10)
    assert "4 days left" in creator.client.get("/billing").text

    marked = cli("beta", "invite", "creator@example.com")
    assert marked.exit_code == 0, marked.output
    beta_end = started + timedelta(days=60)
    assert f"creator@example.com is now a beta member (free until {beta_end:%Y-%m-%d})" in marked.output
    assert "now part of the beta" in mail_body(last_mail_to(settings.outbox_path, "creator@example.com"))
    assert _user(container, "creator@example.com").trial_ends_at == beta_end
    assert "50 days left" in creator.client.get("/billing").text

    session_id = creator.checkout()
    sent = fake_stripe.calls("POST", "/v1/checkout/sessions")[-1].params["subscription_data"]
    assert sent["trial_end"] == str(int(beta_end.timestamp()))  # the 50 free days left, honoured by Stripe
    creator.send_all(fake_stripe.complete_checkout(session_id))
    (subscription,) = fake_stripe.live_subscriptions(creator.customer_id())
    assert (subscription["status"], subscription["trial_end"]) == ("trialing", int(beta_end.timestamp()))
    page = creator.client.get("/billing").text
    assert 'data-status="active"' in page
    assert f"Your first payment is on {beta_end:%B} {beta_end.day}, {beta_end.year}" in page


def test_a_member_with_under_two_days_left_is_charged_at_once_as_stripe_refuses_a_nearer_trial_end(
    client, container, fake_stripe: FakeStripe, cli
) -> None:  # type: ignore[no-untyped-def]
    creator = Creator(client, container, fake_stripe)
    _days_into_trial(container, creator.account_id, 59)
    cli("beta", "invite", "creator@example.com")
    creator.checkout()
    assert "trial_end" not in fake_stripe.calls("POST", "/v1/checkout/sessions")[-1].params["subscription_data"]


def _mail_subjects(settings, address: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["Subject"] for m in outbox_messages(settings.outbox_path) if m["To"] == address]


def test_the_beta_ending_email_goes_once_where_others_get_the_trial_reminder(
    app, container, fake_stripe: FakeStripe, settings, cli
) -> None:  # type: ignore[no-untyped-def]
    from adapters.jobs.tasks import task_function
    from core.services.billing_notices import TRIAL_NOTICES_TASK

    member = Creator(app.test_client(), container, fake_stripe, "member@example.com")
    other = Creator(app.test_client(), container, fake_stripe, "other@example.com")
    _days_into_trial(container, member.account_id, 58)  # the beta's 60 days end in two
    cli("beta", "invite", "member@example.com")
    _days_into_trial(container, other.account_id, 12)  # the 14 days end in two

    assert task_function(TRIAL_NOTICES_TASK)() == 2
    assert task_function(TRIAL_NOTICES_TASK)() == 0  # the job runs every 15 minutes: once per occasion
    assert _mail_subjects(settings, "member@example.com")[-1] == "Your CourseSignal beta ends in 3 days"
    assert _mail_subjects(settings, "other@example.com") == ["Your CourseSignal trial ends in 3 days"]
    body = mail_body(last_mail_to(settings.outbox_path, "member@example.com"))
    assert "Your 60 free days in the CourseSignal beta end on" in body

    member.trial_ends(datetime.now(UTC) - timedelta(hours=1))
    assert task_function(TRIAL_NOTICES_TASK)() == 1
    assert _mail_subjects(settings, "member@example.com")[-1] == "Your CourseSignal trial has ended"


def test_a_creator_marked_before_confirming_the_address_gets_the_60_days_on_confirming(
    app, container, settings, cli
) -> None:  # type: ignore[no-untyped-def]
    creator = app.test_client()
    assert post_form(creator, "/signup", {"email": "late@example.com", "password": PASSWORD}).status_code == 302
    marked = cli("beta", "invite", "late@example.com")
    assert "late@example.com is now a beta member (60 days free once the address is confirmed)" in marked.output
    assert _user(container, "late@example.com").trial_ends_at is None
    verification = [m for m in outbox_messages(settings.outbox_path) if "Confirm" in m["Subject"]][-1]
    creator.get(path_of(links_in(verification)[0]))
    user = _user(container, "late@example.com")
    assert user.trial_ends_at == user.email_verified_at + timedelta(days=60)
