"""Charging creators for CourseSignal itself: Stripe Checkout, the Customer Portal and Stripe's events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.domain.money import Money
from core.domain.subscriptions import BillingEvent, Subscription, SubscriptionSnapshot


class BillingUnavailable(Exception):
    """Billing is not configured here, or Stripe could not be reached; `str(error)` says what to do."""


class ForgedBillingEvent(Exception):
    """A webhook delivery whose signature is missing, wrong or too old."""


class UnreadableBillingEvent(Exception):
    """A webhook delivery that is not UTF-8 text, or whose correctly signed body is not a Stripe event."""


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    account_id: int
    email: str
    customer_id: str | None
    success_url: str
    cancel_url: str
    trial_end: datetime | None = None  # the first charge waits until then


class BillingGateway(Protocol):
    def create_customer(self, account_id: int, email: str) -> str:
        """A new Stripe Customer for the account; returns its id."""
        ...

    def create_checkout_session(self, request: CheckoutRequest) -> str:
        """A Checkout Session in subscription mode for the plan; returns the URL to send the creator to."""
        ...

    def create_portal_session(self, customer_id: str, return_url: str) -> str:
        """A Customer Portal session (card, invoices, cancel); returns its URL."""
        ...

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        """The subscription's state now, straight from Stripe."""
        ...

    def cancel_subscription(self, subscription_id: str) -> None:
        """End the subscription now, without a refund; one already ended or gone is no error."""
        ...

    def customer_subscriptions(self, customer_id: str) -> list[SubscriptionSnapshot]:
        """The customer's subscriptions that may still charge (any status but canceled and
        incomplete_expired), the oldest first."""
        ...

    def open_checkout_url(self, customer_id: str) -> str | None:
        """The URL of the customer's newest Checkout Session still open (not paid, not expired), if any."""
        ...

    def expire_open_checkouts(self, customer_id: str) -> int:
        """Expire every open Checkout Session of the customer, so none can start a subscription; how many."""
        ...

    def refund_subscription_payments(self, subscription_id: str) -> Money | None:
        """Refund in full every payment made on the subscription's invoices; the total refunded (None: nothing
        had been paid). Safe to repeat: what is already refunded is not refunded again."""
        ...

    def read_event(self, payload: bytes, signature_header: str | None) -> BillingEvent:
        """Verify a webhook delivery's signature on the raw body, then read it; raises ForgedBillingEvent or
        UnreadableBillingEvent."""
        ...


class BillingRepository(Protocol):
    def get(self, account_id: int, *, for_update: bool = False) -> Subscription | None:
        """The account's subscription state; `for_update` holds the account until the transaction ends, so two
        events about one account, handled at the same moment, apply one after the other."""
        ...

    def save(self, subscription: Subscription) -> None:
        """Insert or replace the account's subscription state."""
        ...

    def account_for_customer(self, customer_id: str) -> int | None: ...
    def trial_ends_at(self, account_id: int) -> datetime | None:
        """When the account's free trial ends; None until its email is verified."""
        ...

    def record_event(self, event_id: str, event_type: str, created: datetime, received_at: datetime) -> bool:
        """Note a Stripe event as handled: False when this event id was handled before."""
        ...

    def record_notice(self, account_id: int, kind: str, key: str, sent_at: datetime) -> bool:
        """Note a billing email as sent: False when one of this kind and key went to the account before."""
        ...

    def accounts_with_trial_ending(self, after: datetime, until: datetime) -> list[int]:
        """The accounts whose free trial ends after `after` and no later than `until`."""
        ...
