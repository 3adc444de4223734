"""The beta program's rules and use cases on the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.domain.beta import MAX_TEXT, BetaMember, beta_trial_end
from core.domain.sites import Account
from core.services.beta import Beta, BetaRequestRefused, NotAMember
from tests.unit.fakes import FakeUnitOfWork, FixedClock, RecordingMailer, Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_the_free_period_runs_60_days_from_the_trial_start_and_never_shrinks() -> None:
    assert beta_trial_end(T0, T0 + timedelta(days=14)) == T0 + timedelta(days=60)
    assert beta_trial_end(T0, None) == T0 + timedelta(days=60)
    assert beta_trial_end(T0, T0 + timedelta(days=90)) == T0 + timedelta(days=90)  # an operator gave more


def test_the_feedback_prompt_is_due_a_week_after_joining_then_a_week_after_each_answer_or_dismissal() -> None:
    member = BetaMember(email="a@example.com", invited_at=T0)
    assert not member.feedback_due(T0 + timedelta(days=30))  # not joined yet
    member.join(7, T0)
    assert not member.feedback_due(T0 + timedelta(days=6, hours=23))
    assert member.feedback_due(T0 + timedelta(days=7))
    member.close_feedback_prompt(T0 + timedelta(days=8))
    assert not member.feedback_due(T0 + timedelta(days=14))
    assert member.feedback_due(T0 + timedelta(days=15))


def test_testimonial_consent_keeps_its_first_date_and_a_withdrawal_is_dated() -> None:
    member = BetaMember(email="a@example.com", invited_at=T0)
    member.consent_to_testimonial(T0)
    member.consent_to_testimonial(T0 + timedelta(days=1))
    assert member.testimonial_consent_at == T0
    member.withdraw_testimonial(T0 + timedelta(days=2))
    assert (member.testimonial_consent_at, member.testimonial_withdrawn_at) == (None, T0 + timedelta(days=2))


def _world() -> tuple[Beta, FixedClock, int, int]:
    store, clock = Store(), FixedClock(T0)
    beta = Beta(lambda: FakeUnitOfWork(store), clock, RecordingMailer(), "http://app.test/signup")
    with FakeUnitOfWork(store) as uow:
        member = uow.accounts.add(Account(email="m@example.com", created_at=T0))
        outsider = uow.accounts.add(Account(email="o@example.com", created_at=T0))
        uow.commit()
    assert member.id is not None
    assert outsider.id is not None
    beta.invite("m@example.com")
    return beta, clock, member.id, outsider.id


def test_one_open_setup_help_request_at_a_time_and_only_for_members() -> None:
    beta, clock, member, outsider = _world()
    with pytest.raises(NotAMember):
        beta.request_setup_help(outsider, "help")
    beta.request_setup_help(member, "  Kajabi webhooks, please  ")
    with pytest.raises(BetaRequestRefused, match="already asked"):
        beta.request_setup_help(member, "again")
    (request,) = beta.overview().setup_help
    assert (request.message, request.email, request.is_open) == ("Kajabi webhooks, please", "m@example.com", True)
    clock.advance(seconds=3600)
    assert beta.close_setup_help(request.id)
    assert not beta.close_setup_help(request.id)  # closed already
    beta.request_setup_help(member, "x" * (MAX_TEXT + 50))  # a new one once the last is closed
    assert len(beta.overview().setup_help[0].message) == MAX_TEXT


def test_feedback_needs_words_and_rests_the_prompt_for_a_week() -> None:
    beta, clock, member, outsider = _world()
    clock.advance(seconds=7 * 86_400)
    assert beta.feedback_due(member)
    assert not beta.feedback_due(outsider)
    with pytest.raises(BetaRequestRefused, match="at least one"):
        beta.send_feedback(member, "  ", "")
    beta.send_feedback(member, "The lookback window", "")
    assert not beta.feedback_due(member)
    (answer,) = beta.overview().feedback
    assert (answer.confusing, answer.missing_report, answer.submitted_at) == ("The lookback window", "", clock.now())
    clock.advance(seconds=7 * 86_400)
    beta.dismiss_feedback(member)
    assert not beta.feedback_due(member)
    with pytest.raises(NotAMember):
        beta.dismiss_feedback(outsider)
