"""CourseSignal's own subscription: the free trial, the $99/month plan, and what Stripe tells us about it.

Stripe delivers webhook events at least once and in no particular order, so every rule here decides from
the state an event carries and the time Stripe created it, never from the order the events arrive in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from core.domain.money import Money

PLAN_PRICE = Money(9900, "USD")  # per month; the Stripe Price behind STRIPE_PRICE_ID must say the same


class BillingStatus(StrEnum):
    """What the creator's account is, as the app shows it and as access is decided."""

    TRIAL_NOT_STARTED = "trial_not_started"  # the email is not verified yet, so the trial clock has not started
    TRIALING = "trialing"
    TRIAL_EXPIRED = "trial_expired"
    ACTIVE = "active"  # paying, or a paid plan in its own trial whose first charge is still ahead
    ENDING = "ending"  # canceled at the end of the period (or of the plan's trial): no further charge
    PAST_DUE = "past_due"
    CANCELED = "canceled"


# Stripe's subscription statuses, grouped by what they mean for the creator.
_PAYING = frozenset({"active", "trialing"})  # "trialing" here is a paid plan whose first charge is still ahead
_RETRYING = frozenset({"past_due"})
_ENDED = frozenset({"canceled", "unpaid", "incomplete_expired", "paused"})
# "incomplete": Checkout created the subscription but its first payment has not gone through yet.
KNOWN_STRIPE_STATUSES = _PAYING | _RETRYING | _ENDED | {"incomplete"}
# A paused or unpaid subscription can still come back to life and charge; only these two never do.
NEVER_CHARGES_AGAIN = frozenset({"canceled", "incomplete_expired"})


@dataclass(frozen=True, slots=True)
class SubscriptionSnapshot:
    """A Stripe Subscription object as an event (or a fetch) shows it."""

    subscription_id: str
    customer_id: str
    status: str  # Stripe's own status string
    cancel_at_period_end: bool = False
    current_period_end: datetime | None = None
    trial_end: datetime | None = None
    account_id: int | None = None  # from the subscription's metadata, when Checkout set it
    created: datetime | None = None
    ended_by: str | None = None  # Stripe's cancellation_details.reason: "payment_failed", "cancellation_requested"...


@dataclass(frozen=True, slots=True)
class InvoiceSnapshot:
    """The parts of a Stripe Invoice that matter for dunning."""

    invoice_id: str
    customer_id: str
    subscription_id: str | None
    attempt_count: int
    next_payment_attempt: datetime | None  # None: Stripe will not try again
    amount_due: Money | None = None
    hosted_invoice_url: str | None = None  # Stripe's page where the invoice can be paid (and the card confirmed)


@dataclass(frozen=True, slots=True)
class CheckoutCompleted:
    session_id: str
    customer_id: str | None
    subscription_id: str | None
    account_id: int | None  # our client_reference_id, echoed back by Stripe


@dataclass(frozen=True, slots=True)
class Subscription:
    """One account's billing state as last told by Stripe.

    `status_as_of` and `payment_as_of` are the creation times of the Stripe events that last set the
    subscription's status and its payment-retry details: an event older than those is stale.
    """

    account_id: int
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    stripe_status: str | None = None
    cancel_at_period_end: bool = False
    current_period_end: datetime | None = None
    trial_end: datetime | None = None
    failed_payment_attempts: int = 0
    next_payment_attempt: datetime | None = None
    status_as_of: datetime | None = None
    payment_as_of: datetime | None = None

    @property
    def has_ended(self) -> bool:
        return self.stripe_status in _ENDED


# How far along its life a subscription is; only used to order two events from the same second.
_PROGRESS = {"incomplete": 0, "trialing": 1, "active": 2, "past_due": 3}


def _progress(stripe_status: str | None) -> int:
    if stripe_status in _ENDED:
        return len(_PROGRESS)
    return _PROGRESS.get(stripe_status or "", -1)


def _is_stale(event_created: datetime, as_of: datetime | None) -> bool:
    # Stripe's `created` has one-second resolution: an event from the same second is not stale by time.
    return as_of is not None and event_created < as_of


def link_customer(current: Subscription, customer_id: str) -> Subscription:
    """Remember which Stripe Customer pays for the account; the first link wins."""
    if current.stripe_customer_id is not None:
        return current
    return replace(current, stripe_customer_id=customer_id)


def apply_subscription_state(current: Subscription, snapshot: SubscriptionSnapshot, created: datetime) -> Subscription:
    """The account after a `customer.subscription.*` event (or a fetch) carrying `snapshot`, created at `created`."""
    same_subscription = snapshot.subscription_id == current.stripe_subscription_id
    if same_subscription:
        if current.has_ended and snapshot.status not in _ENDED:
            # A canceled Stripe subscription never comes back, so this older news arrived late.
            return current
        if _is_stale(created, current.status_as_of):
            return current
        if created == current.status_as_of and _progress(snapshot.status) < _progress(current.stripe_status):
            return current  # e.g. "incomplete" then "active" in one second, delivered the other way round
    else:
        if snapshot.status in _ENDED and current.stripe_subscription_id is not None and not current.has_ended:
            # An older subscription ending must not end the one the account pays with now.
            return current
        if _is_stale(created, current.status_as_of) and not current.has_ended:
            return current
    updated = replace(
        current,
        stripe_customer_id=current.stripe_customer_id or snapshot.customer_id,
        stripe_subscription_id=snapshot.subscription_id,
        stripe_status=snapshot.status,
        cancel_at_period_end=snapshot.cancel_at_period_end,
        current_period_end=snapshot.current_period_end,
        trial_end=snapshot.trial_end,
        status_as_of=created if current.status_as_of is None else max(created, current.status_as_of),
    )
    if not same_subscription and current.stripe_subscription_id is not None:
        # A different subscription: the old one's payment retries are not this one's.
        updated = replace(updated, failed_payment_attempts=0, next_payment_attempt=None, payment_as_of=None)
    return updated


def adopt_subscription(current: Subscription, snapshot: SubscriptionSnapshot, as_of: datetime) -> Subscription:
    """The account pays with `snapshot`'s subscription from now on, as Stripe's API showed it at `as_of`.

    For the one subscription kept when a customer had two: the API's answer is newer than any event still
    on its way, so it replaces the state whatever subscription that state was about.
    """
    if snapshot.subscription_id == current.stripe_subscription_id:
        return apply_subscription_state(current, snapshot, as_of)
    return replace(
        current,
        stripe_customer_id=current.stripe_customer_id or snapshot.customer_id,
        stripe_subscription_id=snapshot.subscription_id,
        stripe_status=snapshot.status,
        cancel_at_period_end=snapshot.cancel_at_period_end,
        current_period_end=snapshot.current_period_end,
        trial_end=snapshot.trial_end,
        failed_payment_attempts=0,
        next_payment_attempt=None,
        status_as_of=as_of if current.status_as_of is None else max(as_of, current.status_as_of),
        payment_as_of=None,
    )


def _concerns_current(current: Subscription, invoice: InvoiceSnapshot) -> bool:
    return invoice.subscription_id in (None, current.stripe_subscription_id) or current.stripe_subscription_id is None


def _adopt_subscription(current: Subscription, invoice: InvoiceSnapshot) -> Subscription:
    """An invoice may arrive before any event about its subscription: it names the subscription, then."""
    if current.stripe_subscription_id is None and invoice.subscription_id is not None:
        return replace(current, stripe_subscription_id=invoice.subscription_id)
    return current


def payment_news_is_current(current: Subscription, invoice: InvoiceSnapshot, created: datetime) -> bool:
    """Whether an invoice event about a payment is the latest payment news of the account's subscription:
    about that subscription, and not older than a payment event already applied (a failure that arrives
    after the payment that recovered it is not)."""
    return _concerns_current(current, invoice) and not _is_stale(created, current.payment_as_of)


def apply_payment_failed(current: Subscription, invoice: InvoiceSnapshot, created: datetime) -> Subscription:
    """The account after `invoice.payment_failed`: the retry count and the next attempt, and past_due."""
    if not _concerns_current(current, invoice) or _is_stale(created, current.payment_as_of):
        return current
    if current.payment_as_of == created and invoice.attempt_count < current.failed_payment_attempts:
        return current  # two failures in the same second: the higher attempt is the later one
    updated = replace(
        _adopt_subscription(current, invoice),
        failed_payment_attempts=invoice.attempt_count,
        next_payment_attempt=invoice.next_payment_attempt,
        payment_as_of=created,
    )
    if current.stripe_status in _PAYING and not _is_stale(created, current.status_as_of):
        # Stripe also sends customer.subscription.updated (past_due); this keeps the page right if it is late.
        updated = replace(updated, stripe_status="past_due", status_as_of=created)
    return updated


def apply_invoice_paid(current: Subscription, invoice: InvoiceSnapshot, created: datetime) -> Subscription:
    """The account after `invoice.paid`: the retries are over, and a past_due subscription is active again."""
    if not _concerns_current(current, invoice) or _is_stale(created, current.payment_as_of):
        return current
    updated = replace(
        _adopt_subscription(current, invoice),
        failed_payment_attempts=0,
        next_payment_attempt=None,
        payment_as_of=created,
    )
    if current.stripe_status in {"past_due", "incomplete"} and not _is_stale(created, current.status_as_of):
        updated = replace(updated, stripe_status="active", status_as_of=created)
    return updated


@dataclass(frozen=True, slots=True)
class BillingState:
    """Where the creator stands, as every page, banner, gate and email reads it (see `billing_state`)."""

    status: BillingStatus
    can_view_reports: bool
    can_subscribe: bool
    trial_ends_at: datetime | None
    trial_days_left: int | None  # while the free trial runs (None otherwise)
    first_charge_at: datetime | None  # a paid plan taken during the trial: its first charge
    renews_at: datetime | None  # a paying plan: its next charge
    ends_at: datetime | None  # a plan canceled at the end of its period: the day it stops
    failed_payment_attempts: int  # while past due
    next_payment_attempt: datetime | None  # while past due; None: that was the last try


def billing_state(
    *,
    trial_ends_at: datetime | None,
    stripe_status: str | None,
    cancel_at_period_end: bool,
    period_end: datetime | None,
    failed_payment_attempts: int,
    next_payment_attempt: datetime | None,
    now: datetime,
) -> BillingState:
    """The account's billing state now: the one rule behind the Billing page, the banner, the reports gate
    and the billing emails.

    A live Stripe subscription (paying, in its own trial, or past due while Stripe retries) decides. Without
    one, the app's own free trial (no card) decides, and it runs to its end even when a subscription taken
    during it has already ended: ending a plan never shortens the trial the creator was given.
    """
    subscription_ended = stripe_status in _ENDED
    if stripe_status in _RETRYING:
        status = BillingStatus.PAST_DUE
    elif stripe_status in _PAYING:
        status = BillingStatus.ENDING if cancel_at_period_end else BillingStatus.ACTIVE
    elif trial_ends_at is not None and now < trial_ends_at:
        status = BillingStatus.TRIALING
    elif subscription_ended:
        status = BillingStatus.CANCELED
    elif trial_ends_at is None:
        status = BillingStatus.TRIAL_NOT_STARTED
    else:
        status = BillingStatus.TRIAL_EXPIRED
    paid_trial = status is BillingStatus.ACTIVE and stripe_status == "trialing"
    past_due = status is BillingStatus.PAST_DUE
    return BillingState(
        status=status,
        can_view_reports=status not in (BillingStatus.TRIAL_EXPIRED, BillingStatus.CANCELED),
        can_subscribe=status not in (BillingStatus.ACTIVE, BillingStatus.ENDING, BillingStatus.PAST_DUE),
        trial_ends_at=trial_ends_at,
        trial_days_left=trial_days_left(trial_ends_at, now) if status is BillingStatus.TRIALING else None,
        first_charge_at=period_end if paid_trial else None,
        renews_at=period_end if status is BillingStatus.ACTIVE and not paid_trial else None,
        ends_at=period_end if status is BillingStatus.ENDING else None,
        failed_payment_attempts=failed_payment_attempts if past_due else 0,
        next_payment_attempt=next_payment_attempt if past_due else None,
    )


def state_of(subscription: Subscription | None, trial_ends_at: datetime | None, now: datetime) -> BillingState:
    """`billing_state` of an account's stored subscription (None: it never had one)."""
    current = subscription or Subscription(account_id=0)
    return billing_state(
        trial_ends_at=trial_ends_at,
        stripe_status=current.stripe_status,
        cancel_at_period_end=current.cancel_at_period_end,
        period_end=current.current_period_end,
        failed_payment_attempts=current.failed_payment_attempts,
        next_payment_attempt=current.next_payment_attempt,
        now=now,
    )


def trial_days_left(trial_ends_at: datetime | None, now: datetime) -> int | None:
    """Whole days left, counting a started day as a day: 13 days and an hour left shows as 14."""
    if trial_ends_at is None:
        return None
    return max(0, math.ceil((trial_ends_at - now) / timedelta(days=1)))


def trial_end_for_checkout(trial_ends_at: datetime | None, now: datetime) -> datetime | None:
    """When a creator subscribes mid-trial, the first charge waits for the trial's end.

    Stripe refuses a trial_end less than 48 hours ahead, so a trial with less than two days left is
    charged at once rather than not at all.
    """
    if trial_ends_at is None or trial_ends_at - now < timedelta(hours=48, minutes=5):
        return None
    return trial_ends_at


class BillingEventType(StrEnum):
    """The Stripe events CourseSignal's own billing listens to."""

    CHECKOUT_COMPLETED = "checkout.session.completed"
    SUBSCRIPTION_CREATED = "customer.subscription.created"
    SUBSCRIPTION_UPDATED = "customer.subscription.updated"
    SUBSCRIPTION_DELETED = "customer.subscription.deleted"
    SUBSCRIPTION_TRIAL_WILL_END = "customer.subscription.trial_will_end"  # 3 days before a plan's trial ends
    INVOICE_PAID = "invoice.paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
    INVOICE_PAYMENT_ACTION_REQUIRED = "invoice.payment_action_required"  # the card needs authentication


@dataclass(frozen=True, slots=True)
class BillingEvent:
    """One verified Stripe event, already read into domain values; `type` may be one we do not handle."""

    event_id: str
    type: str
    created: datetime
    checkout: CheckoutCompleted | None = None
    subscription: SubscriptionSnapshot | None = None
    invoice: InvoiceSnapshot | None = None
