"""The subscription lifecycle's pure rules: events applied in any order (the state they lead to: test_billing_state)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.subscriptions import (
    BillingStatus,
    InvoiceSnapshot,
    Subscription,
    SubscriptionSnapshot,
    apply_invoice_paid,
    apply_payment_failed,
    apply_subscription_state,
    link_customer,
    state_of,
    trial_days_left,
    trial_end_for_checkout,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ACCOUNT = 7


def at(seconds: int = 0, *, days: int = 0) -> datetime:
    return T0 + timedelta(days=days, seconds=seconds)


def sub(status: str, subscription_id: str = "sub_1", **extra: object) -> SubscriptionSnapshot:
    return SubscriptionSnapshot(subscription_id=subscription_id, customer_id="cus_1", status=status, **extra)  # type: ignore[arg-type]


def invoice(attempt: int, next_attempt: datetime | None = None, subscription_id: str = "sub_1") -> InvoiceSnapshot:
    return InvoiceSnapshot(
        invoice_id="in_1",
        customer_id="cus_1",
        subscription_id=subscription_id,
        attempt_count=attempt,
        next_payment_attempt=next_attempt,
    )


def active_since(when: datetime) -> Subscription:
    return apply_subscription_state(Subscription(account_id=ACCOUNT, stripe_customer_id="cus_1"), sub("active"), when)


# --- status and access ---------------------------------------------------------------------------------


def test_days_left_count_a_started_day() -> None:
    ends = at(days=14)
    assert trial_days_left(ends, at()) == 14
    assert trial_days_left(ends, at(seconds=1)) == 14
    assert trial_days_left(ends, at(days=13, seconds=1)) == 1
    assert trial_days_left(ends, at(days=15)) == 0
    assert trial_days_left(None, at()) is None


def test_subscribing_mid_trial_defers_the_first_charge_only_when_stripe_allows() -> None:
    assert trial_end_for_checkout(at(days=10), at()) == at(days=10)
    assert trial_end_for_checkout(at(days=1), at()) is None  # Stripe wants trial_end 48 hours ahead at least
    assert trial_end_for_checkout(at(days=-1), at()) is None
    assert trial_end_for_checkout(None, at()) is None


# --- transitions -----------------------------------------------------------------------------------------


def test_the_first_customer_link_wins() -> None:
    linked = link_customer(Subscription(account_id=ACCOUNT), "cus_1")
    assert linked.stripe_customer_id == "cus_1"
    assert link_customer(linked, "cus_2") is linked


def test_a_newer_state_replaces_an_older_one_and_an_older_one_is_ignored() -> None:
    current = active_since(at(100))
    canceling = apply_subscription_state(current, sub("active", cancel_at_period_end=True), at(200))
    assert canceling.cancel_at_period_end
    assert canceling.status_as_of == at(200)
    assert apply_subscription_state(canceling, sub("active"), at(150)) == canceling


def test_a_canceled_subscription_never_comes_back_even_from_a_later_stamped_event() -> None:
    canceled = apply_subscription_state(active_since(at(100)), sub("canceled"), at(200))
    assert apply_subscription_state(canceled, sub("past_due"), at(200)) == canceled
    assert apply_subscription_state(canceled, sub("active"), at(300)) == canceled


def test_within_one_second_a_subscription_does_not_move_backwards() -> None:
    started = apply_subscription_state(Subscription(account_id=ACCOUNT), sub("active"), at())
    assert apply_subscription_state(started, sub("incomplete"), at()) == started


def test_a_new_subscription_after_a_canceled_one_is_taken() -> None:
    canceled = apply_subscription_state(active_since(at(100)), sub("canceled"), at(200))
    again = apply_subscription_state(canceled, sub("active", "sub_2"), at(300))
    assert again.stripe_subscription_id == "sub_2"
    assert state_of(again, None, at(400)).status is BillingStatus.ACTIVE


def test_an_old_subscription_ending_late_does_not_end_the_new_one() -> None:
    current = active_since(at(100))
    resubscribed = apply_subscription_state(current, sub("active", "sub_2"), at(300))
    assert apply_subscription_state(resubscribed, sub("canceled", "sub_1"), at(200)) == resubscribed
    assert apply_subscription_state(resubscribed, sub("canceled", "sub_1"), at(400)) == resubscribed


def test_a_failed_payment_keeps_the_retry_count_and_next_attempt_and_means_past_due() -> None:
    failed = apply_payment_failed(active_since(at()), invoice(1, at(days=3)), at(days=30))
    assert failed.stripe_status == "past_due"
    assert failed.failed_payment_attempts == 1
    assert failed.next_payment_attempt == at(days=3)
    assert state_of(failed, None, at(days=30)).status is BillingStatus.PAST_DUE


def test_a_paid_invoice_clears_the_retries_and_reactivates() -> None:
    failed = apply_payment_failed(active_since(at()), invoice(2, at(days=5)), at(days=30))
    paid = apply_invoice_paid(failed, invoice(3), at(days=35))
    assert (paid.stripe_status, paid.failed_payment_attempts, paid.next_payment_attempt) == ("active", 0, None)


def test_invoice_news_about_another_subscription_changes_nothing() -> None:
    current = active_since(at())
    assert apply_payment_failed(current, invoice(1, at(days=3), "sub_old"), at(days=1)) == current
    assert apply_invoice_paid(current, invoice(1, None, "sub_old"), at(days=1)) == current


def test_a_failure_after_cancellation_updates_the_count_but_not_the_status() -> None:
    canceled = apply_subscription_state(active_since(at()), sub("canceled"), at(days=40))
    late = apply_payment_failed(canceled, invoice(4, None), at(days=40))
    assert (late.stripe_status, late.failed_payment_attempts) == ("canceled", 4)


def test_two_failures_in_one_second_keep_the_higher_attempt() -> None:
    second = apply_payment_failed(active_since(at()), invoice(2, at(days=5)), at(days=30))
    assert apply_payment_failed(second, invoice(1, at(days=3)), at(days=30)) == second


# --- any delivery order ends in the same state -------------------------------------------------------------

Step = Callable[[Subscription], Subscription]


def _subscription_step(snapshot: SubscriptionSnapshot, created: datetime) -> Step:
    return lambda current: apply_subscription_state(current, snapshot, created)


def _failed_step(snapshot: InvoiceSnapshot, created: datetime) -> Step:
    return lambda current: apply_payment_failed(current, snapshot, created)


def _paid_step(snapshot: InvoiceSnapshot, created: datetime) -> Step:
    return lambda current: apply_invoice_paid(current, snapshot, created)


def _visible(subscription: Subscription) -> tuple[object, ...]:
    return (
        subscription.stripe_subscription_id,
        subscription.stripe_status,
        subscription.failed_payment_attempts,
        subscription.next_payment_attempt,
        subscription.cancel_at_period_end,
    )


START = Subscription(account_id=ACCOUNT, stripe_customer_id="cus_1")
CHECKOUT = [
    _subscription_step(sub("incomplete"), at()),
    _subscription_step(sub("active"), at()),  # same second as the creation
    _paid_step(invoice(1), at()),
]
DUNNING_TO_CANCEL = [
    *CHECKOUT,
    _failed_step(invoice(1, at(days=33)), at(days=30)),
    _subscription_step(sub("past_due"), at(days=30)),
    _failed_step(invoice(2, at(days=38)), at(days=33)),
    _failed_step(invoice(3, at(days=45)), at(days=38)),
    _failed_step(invoice(4, None), at(days=45)),
    _subscription_step(sub("canceled"), at(days=45)),
]
DUNNING_RECOVERED = [
    *CHECKOUT,
    _failed_step(invoice(1, at(days=33)), at(days=30)),
    _subscription_step(sub("past_due"), at(days=30)),
    _failed_step(invoice(2, at(days=38)), at(days=33)),
    _paid_step(invoice(3), at(days=36)),
    _subscription_step(sub("active"), at(days=36)),
    _subscription_step(sub("active", cancel_at_period_end=True), at(days=40)),
]


def _run(steps: list[Step]) -> Subscription:
    state = START
    for step in steps:
        state = step(state)
    return state


def test_in_order_the_sequences_end_where_stripe_does() -> None:
    assert _visible(_run(DUNNING_TO_CANCEL)) == ("sub_1", "canceled", 4, None, False)
    assert _visible(_run(DUNNING_RECOVERED)) == ("sub_1", "active", 0, None, True)


@given(st.permutations(DUNNING_TO_CANCEL))
def test_a_failed_payment_sequence_in_any_order_ends_canceled(steps: list[Step]) -> None:
    assert _visible(_run(steps)) == _visible(_run(DUNNING_TO_CANCEL))


@given(st.permutations(DUNNING_RECOVERED))
def test_a_recovered_payment_sequence_in_any_order_ends_active(steps: list[Step]) -> None:
    assert _visible(_run(steps)) == _visible(_run(DUNNING_RECOVERED))


@given(st.lists(st.sampled_from(range(len(DUNNING_TO_CANCEL))), min_size=1, max_size=30))
def test_repeating_any_event_changes_nothing(indexes: list[int]) -> None:
    steps = [*DUNNING_TO_CANCEL, *(DUNNING_TO_CANCEL[i] for i in indexes)]
    assert _visible(_run(steps)) == _visible(_run(DUNNING_TO_CANCEL))


def test_replace_keeps_the_value_object_frozen() -> None:
    with pytest.raises(AttributeError):
        START.stripe_status = "active"  # type: ignore[misc]
    assert replace(START, stripe_status="active").stripe_status == "active"
