"""core's billing_state, the one rule every page, banner, gate and email reads: every combination of its inputs."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from core.domain.subscriptions import KNOWN_STRIPE_STATUSES, BillingStatus, billing_state

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
TRIALS = {"unverified": None, "5 days left": NOW + timedelta(days=4, hours=20), "over": NOW - timedelta(days=1)}
PERIOD_ENDS = {"no period": None, "period ahead": NOW + timedelta(days=14)}
RETRIES = {"no failure": (0, None), "2 failures": (2, NOW + timedelta(days=3))}
STRIPE = [None, "incomplete", "trialing", "active", "past_due", "canceled", "unpaid", "incomplete_expired", "paused"]

S = BillingStatus
# Stripe's subscription status -> the account's status for a trial (unverified, 5 days left, over), first
# with cancel_at_period_end false, then true. Written out by hand: this table is the specification.
NOT_STARTED, EXPIRED = S.TRIAL_NOT_STARTED, S.TRIAL_EXPIRED
STATUS_TABLE: dict[str | None, tuple[tuple[S, S, S], tuple[S, S, S]]] = {
    None: ((NOT_STARTED, S.TRIALING, EXPIRED), (NOT_STARTED, S.TRIALING, EXPIRED)),
    # Checkout made the subscription, its first payment has not gone through: the trial stands as it was.
    "incomplete": ((NOT_STARTED, S.TRIALING, EXPIRED), (NOT_STARTED, S.TRIALING, EXPIRED)),
    # A paid plan in its own trial (first charge ahead), or paying: it decides, whatever the app's trial says.
    "trialing": ((S.ACTIVE, S.ACTIVE, S.ACTIVE), (S.ENDING, S.ENDING, S.ENDING)),
    "active": ((S.ACTIVE, S.ACTIVE, S.ACTIVE), (S.ENDING, S.ENDING, S.ENDING)),
    # Stripe is retrying a failed payment: it may still be paid, so the plan is not ending.
    "past_due": ((S.PAST_DUE, S.PAST_DUE, S.PAST_DUE), (S.PAST_DUE, S.PAST_DUE, S.PAST_DUE)),
    # Ended plans: the free trial the creator still has is theirs to finish.
    "canceled": ((S.CANCELED, S.TRIALING, S.CANCELED), (S.CANCELED, S.TRIALING, S.CANCELED)),
    "unpaid": ((S.CANCELED, S.TRIALING, S.CANCELED), (S.CANCELED, S.TRIALING, S.CANCELED)),
    "incomplete_expired": ((S.CANCELED, S.TRIALING, S.CANCELED), (S.CANCELED, S.TRIALING, S.CANCELED)),
    "paused": ((S.CANCELED, S.TRIALING, S.CANCELED), (S.CANCELED, S.TRIALING, S.CANCELED)),
}
# status -> (sees the reports, is offered Checkout)
ACCESS_TABLE = {
    S.TRIAL_NOT_STARTED: (True, True),
    S.TRIALING: (True, True),
    S.TRIAL_EXPIRED: (False, True),
    S.ACTIVE: (True, False),
    S.ENDING: (True, False),  # paid up to the period's end; resuming is done in the Portal, not a second plan
    S.PAST_DUE: (True, False),
    S.CANCELED: (False, True),
}

COMBINATIONS = list(itertools.product(TRIALS, STRIPE, (False, True), PERIOD_ENDS, RETRIES))


@pytest.mark.parametrize(("trial", "stripe_status", "cancel", "period", "retries"), COMBINATIONS)
def test_every_combination_gives_the_state_the_tables_say(
    trial: str, stripe_status: str | None, cancel: bool, period: str, retries: str
) -> None:
    attempts, next_attempt = RETRIES[retries]
    state = billing_state(
        trial_ends_at=TRIALS[trial],
        stripe_status=stripe_status,
        cancel_at_period_end=cancel,
        period_end=PERIOD_ENDS[period],
        failed_payment_attempts=attempts,
        next_payment_attempt=next_attempt,
        now=NOW,
    )
    expected = STATUS_TABLE[stripe_status][cancel][list(TRIALS).index(trial)]
    assert state.status is expected
    assert (state.can_view_reports, state.can_subscribe) == ACCESS_TABLE[expected]
    assert state.trial_ends_at == TRIALS[trial]
    assert state.trial_days_left == (5 if expected is S.TRIALING else None)
    period_end = PERIOD_ENDS[period]
    # The one date each paying state shows, and no other.
    assert state.first_charge_at == (period_end if expected is S.ACTIVE and stripe_status == "trialing" else None)
    assert state.renews_at == (period_end if expected is S.ACTIVE and stripe_status == "active" else None)
    assert state.ends_at == (period_end if expected is S.ENDING else None)
    past_due = expected is S.PAST_DUE
    assert (state.failed_payment_attempts, state.next_payment_attempt) == (
        (attempts, next_attempt) if past_due else (0, None)
    )


def test_the_table_covers_every_stripe_status_and_every_account_status() -> None:
    assert set(STATUS_TABLE) - {None} == KNOWN_STRIPE_STATUSES
    assert set(ACCESS_TABLE) == set(BillingStatus)
    assert len(COMBINATIONS) == 3 * 9 * 2 * 2 * 2


def test_the_trial_ends_at_its_exact_second() -> None:
    ends = NOW + timedelta(days=14)
    state = {
        when: billing_state(
            trial_ends_at=ends,
            stripe_status=None,
            cancel_at_period_end=False,
            period_end=None,
            failed_payment_attempts=0,
            next_payment_attempt=None,
            now=when,
        )
        for when in (NOW, ends - timedelta(seconds=1), ends)
    }
    assert [s.status for s in state.values()] == [S.TRIALING, S.TRIALING, S.TRIAL_EXPIRED]
    assert [s.trial_days_left for s in state.values()] == [14, 1, None]
