"""The creator's own subscription to CourseSignal: trial, Checkout, the Customer Portal and Stripe's events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from core.domain.money import Money
from core.domain.subscriptions import (
    NEVER_CHARGES_AGAIN,
    PLAN_PRICE,
    BillingEvent,
    BillingEventType,
    BillingState,
    BillingStatus,
    InvoiceSnapshot,
    Subscription,
    SubscriptionSnapshot,
    adopt_subscription,
    apply_invoice_paid,
    apply_payment_failed,
    apply_subscription_state,
    link_customer,
    payment_news_is_current,
    state_of,
    trial_end_for_checkout,
)
from core.ports.billing import BillingGateway, BillingUnavailable, CheckoutRequest
from core.ports.clock import Clock
from core.ports.uow import UnitOfWork

log = logging.getLogger(__name__)


class BillingActionRefused(Exception):
    """The creator asked for something their billing state does not allow; `str(error)` says why and what next."""


ALREADY_SUBSCRIBED = "You are already subscribed: use Manage billing to change your card or plan."


class NoticeKind(StrEnum):
    """The billing emails a creator gets, each at most once per occasion (see `_notice_key`)."""

    TRIAL_ENDING = "trial_ending"  # three days before the free trial (or a paid plan's trial) ends
    TRIAL_ENDED = "trial_ended"  # the free trial ended without a subscription
    BETA_ENDING = "beta_ending"  # instead of TRIAL_ENDING for a beta member: the 60 free days end in three
    PAYMENT_FAILED = "payment_failed"  # each failed attempt, with the next one's date (or the end)
    PAYMENT_ACTION_REQUIRED = "payment_action_required"  # the bank wants the cardholder to confirm the payment
    PAYMENT_RECOVERED = "payment_recovered"  # a payment went through after failures
    SUBSCRIPTION_ENDED = "subscription_ended"  # a canceled plan reached its end


# The free trial's reminder goes out this long before its end; the "has ended" email only this long after it,
# so accounts whose trial ended long before this feature are not written to.
TRIAL_ENDING_NOTICE = timedelta(days=3)
TRIAL_ENDED_NOTICE_WINDOW = timedelta(days=3)
TRIAL_NOTICES_TASK = "send_trial_notices"
TRIAL_NOTICES_EVERY_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class BillingNotice:
    """One billing email: what happened, and where the creator stands now (the words follow `state`)."""

    kind: NoticeKind
    email: str
    billing_url: str
    state: BillingState
    price: Money = PLAN_PRICE
    attempt: int = 0  # a payment's attempt number
    next_attempt: datetime | None = None  # None after a failed payment: that was the last try
    amount_due: Money | None = None
    action_url: str | None = None  # Stripe's hosted invoice page, where the payment can be confirmed
    trial_ends_at: datetime | None = None  # the trial a TRIAL_ENDING notice is about


@dataclass(frozen=True, slots=True)
class DuplicateSubscriptionReport:
    """For the operator: a customer had a second live subscription, which was canceled and refunded."""

    account_id: int
    customer_id: str
    kept_subscription_id: str
    canceled_subscription_id: str
    refunded: Money | None  # None: nothing had been charged on it yet


class BillingNotifier(Protocol):
    """Tells a creator about their billing, and the operator about anomalies; the Mailer port stands behind it."""

    def notify(self, notice: BillingNotice) -> None: ...

    def duplicate_subscription(self, report: DuplicateSubscriptionReport) -> None: ...


class EventOutcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"  # stale or repeated news: the state already says as much, or more
    DUPLICATE = "duplicate"  # this event id was handled before
    IGNORED = "ignored"  # an event type CourseSignal's billing does not use
    UNKNOWN_CUSTOMER = "unknown_customer"  # no account to apply it to: logged, acknowledged, nothing changed
    SECOND_SUBSCRIPTION = "second_subscription_canceled"  # about a second live subscription, canceled and refunded


@dataclass(frozen=True, slots=True)
class BillingOverview(BillingState):
    """The account's billing state, and what the Billing page needs besides."""

    can_manage: bool  # there is a Stripe customer to open the Customer Portal for
    price: Money


class Subscriptions:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        gateway: BillingGateway,
        notifier: BillingNotifier,
        clock: Clock,
        billing_page_url: str,
    ) -> None:
        self._uow = uow
        self._gateway = gateway
        self._notifier = notifier
        self._clock = clock
        self._billing_page_url = billing_page_url

    # --- reading ---------------------------------------------------------------------------------

    def overview(self, account_id: int) -> BillingOverview:
        with self._uow() as uow:
            subscription = uow.billing.get(account_id)
            trial_ends_at = uow.billing.trial_ends_at(account_id)
        state = state_of(subscription, trial_ends_at, self._clock.now())
        return BillingOverview(
            **{field.name: getattr(state, field.name) for field in fields(BillingState)},
            can_manage=subscription is not None and subscription.stripe_customer_id is not None,
            price=PLAN_PRICE,
        )

    def cancel_before_deletion(self, account_id: int) -> bool:
        """End every paid plan of the account at Stripe now, and expire its open Checkout Sessions, so a
        deleted account is never charged again.

        True when a live subscription was cancelled. Raises BillingUnavailable when Stripe cannot be reached:
        the caller must not delete the account then, or the charges would go on with no one to stop them.
        """
        with self._uow() as uow:
            subscription = uow.billing.get(account_id)
        if subscription is None:
            return False
        to_cancel: set[str] = set()
        if subscription.stripe_subscription_id is not None and subscription.stripe_status not in NEVER_CHARGES_AGAIN:
            to_cancel.add(subscription.stripe_subscription_id)
        if subscription.stripe_customer_id is not None:
            self._gateway.expire_open_checkouts(subscription.stripe_customer_id)
            # Every subscription Stripe has for the customer, not only the one this account tracks.
            to_cancel.update(
                s.subscription_id for s in self._gateway.customer_subscriptions(subscription.stripe_customer_id)
            )
        for subscription_id in sorted(to_cancel):
            self._gateway.cancel_subscription(subscription_id)
        return bool(to_cancel)

    def can_view_reports(self, account_id: int) -> bool:
        return self.overview(account_id).can_view_reports

    # --- the creator's actions -------------------------------------------------------------------

    def start_checkout(self, account_id: int, success_url: str, cancel_url: str) -> str:
        """The Stripe Checkout URL for the $99/month plan, never a second plan.

        The Stripe Customer is made first, so every event about the subscription names a customer we already
        know, whatever order they arrive in. Before a new Checkout Session, Stripe is asked whether the
        customer already has a subscription (paid in another tab, its webhook not here yet: then it is taken
        and the creator told) or a Checkout Session still open (then that one is reused, so two tabs cannot
        pay twice). The account stays locked meanwhile, so two requests at once do this one after the other.
        """
        if not self.overview(account_id).can_subscribe:
            raise BillingActionRefused(ALREADY_SUBSCRIBED)
        with self._uow() as uow:
            account = uow.accounts.get(account_id)
            if account is None:
                raise BillingActionRefused("Sign in again to subscribe.")
            subscription = uow.billing.get(account_id, for_update=True) or Subscription(account_id=account_id)
            trial_ends_at = uow.billing.trial_ends_at(account_id)
            if subscription.stripe_customer_id is None:
                subscription = link_customer(subscription, self._gateway.create_customer(account_id, account.email))
                uow.billing.save(subscription)
            customer_id = subscription.stripe_customer_id
            assert customer_id is not None
            live = self._gateway.customer_subscriptions(customer_id)
            if live:
                uow.billing.save(adopt_subscription(subscription, live[0], self._clock.now()))
                uow.commit()
                raise BillingActionRefused(ALREADY_SUBSCRIBED)
            url = self._gateway.open_checkout_url(customer_id) or self._gateway.create_checkout_session(
                CheckoutRequest(
                    account_id=account_id,
                    email=account.email,
                    customer_id=customer_id,
                    success_url=success_url,
                    cancel_url=cancel_url,
                    trial_end=trial_end_for_checkout(trial_ends_at, self._clock.now()),
                )
            )
            uow.commit()
        return url

    def open_portal(self, account_id: int, return_url: str) -> str:
        with self._uow() as uow:
            subscription = uow.billing.get(account_id)
        if subscription is None or subscription.stripe_customer_id is None:
            raise BillingActionRefused("There is no subscription to manage yet: subscribe first.")
        return self._gateway.create_portal_session(subscription.stripe_customer_id, return_url)

    # --- Stripe's events -------------------------------------------------------------------------

    def receive_webhook(self, payload: bytes, signature_header: str | None) -> EventOutcome:
        """Verify and apply one webhook delivery; raises ForgedBillingEvent before anything is read, and
        UnreadableBillingEvent for a body that is not a Stripe event."""
        return self.apply_event(self._gateway.read_event(payload, signature_header))

    def apply_event(self, event: BillingEvent) -> EventOutcome:
        notices: list[tuple[int, str, BillingNotice]] = []
        with self._uow() as uow:
            if not uow.billing.record_event(event.event_id, event.type, event.created, self._clock.now()):
                log.info("Stripe event %s (%s) was handled before; ignored", event.event_id, event.type)
                return EventOutcome.DUPLICATE
            if event.checkout is not None and event.type == BillingEventType.CHECKOUT_COMPLETED:
                outcome = self._checkout_completed(uow, event)
            elif event.subscription is not None:
                outcome = self._subscription_changed(uow, event, event.subscription, notices)
            elif event.invoice is not None and event.type in (
                BillingEventType.INVOICE_PAID,
                BillingEventType.INVOICE_PAYMENT_FAILED,
                BillingEventType.INVOICE_PAYMENT_ACTION_REQUIRED,
            ):
                outcome = self._invoice_event(uow, event, event.invoice, notices)
            else:
                outcome = EventOutcome.IGNORED
            for account_id, key, notice in notices:
                # Before the commit: if the notice cannot be sent, Stripe delivers the event again.
                self._send_once(uow, account_id, key, notice)
            uow.commit()
        log.info("Stripe event %s (%s): %s", event.event_id, event.type, outcome.value)
        return outcome

    def _send_once(self, uow: UnitOfWork, account_id: int, key: str, notice: BillingNotice) -> bool:
        if not uow.billing.record_notice(account_id, notice.kind.value, key, self._clock.now()):
            log.info("billing notice %s (%s) was sent to account %s before", notice.kind.value, key, account_id)
            return False
        self._notifier.notify(notice)
        return True

    def _notice(self, uow: UnitOfWork, account_id: int, kind: NoticeKind, **details: Any) -> BillingNotice | None:
        """A notice for the account as it stands after this transaction's changes; None: no account."""
        account = uow.accounts.get(account_id)
        if account is None:
            return None
        state = state_of(uow.billing.get(account_id), uow.billing.trial_ends_at(account_id), self._clock.now())
        return BillingNotice(kind=kind, email=account.email, billing_url=self._billing_page_url, state=state, **details)

    # --- the free trial's reminders (a periodic job) ---------------------------------------------

    def send_trial_notices(self) -> int:
        """Email each creator whose free trial (a beta member's 60 days) ends within three days, or has just
        ended without a subscription; once per trial. A creator who subscribed during the trial hears from Stripe's
        trial_will_end event instead, in words that fit a paid plan. Returns how many were sent."""
        now = self._clock.now()
        with self._uow() as uow:
            candidates = uow.billing.accounts_with_trial_ending(
                now - TRIAL_ENDED_NOTICE_WINDOW, now + TRIAL_ENDING_NOTICE
            )
        sent = 0
        for account_id in candidates:
            with self._uow() as uow:
                uow.billing.get(account_id, for_update=True)
                trial_ends_at = uow.billing.trial_ends_at(account_id)
                notice = self._notice(uow, account_id, NoticeKind.TRIAL_ENDING, trial_ends_at=trial_ends_at)
                if notice is None or trial_ends_at is None:
                    continue
                if notice.state.status is BillingStatus.TRIAL_EXPIRED:
                    notice = replace(notice, kind=NoticeKind.TRIAL_ENDED)
                elif notice.state.status is not BillingStatus.TRIALING:
                    continue  # subscribed (Stripe's trial_will_end speaks for a paid plan) or a plan ended
                elif uow.beta.for_account(account_id) is not None:
                    notice = replace(notice, kind=NoticeKind.BETA_ENDING)  # the 60 free days of the beta
                if self._send_once(uow, account_id, _trial_key(trial_ends_at), notice):
                    sent += 1
                uow.commit()
        return sent

    def _save_if_changed(self, uow: UnitOfWork, before: Subscription, after: Subscription) -> EventOutcome:
        if after == before:
            return EventOutcome.UNCHANGED
        uow.billing.save(after)
        return EventOutcome.APPLIED

    def _known(self, uow: UnitOfWork, account_id: int | None) -> int | None:
        if account_id is None or uow.accounts.get(account_id) is None:
            return None
        return account_id

    def _checkout_completed(self, uow: UnitOfWork, event: BillingEvent) -> EventOutcome:
        checkout = event.checkout
        assert checkout is not None
        account_id = self._known(uow, checkout.account_id)
        if account_id is None and checkout.customer_id is not None:
            account_id = uow.billing.account_for_customer(checkout.customer_id)
        if account_id is None:
            log.warning(
                "Checkout session %s completed for customer %s, which belongs to no account; nothing changed",
                checkout.session_id,
                checkout.customer_id,
            )
            return EventOutcome.UNKNOWN_CUSTOMER
        before = uow.billing.get(account_id, for_update=True) or Subscription(account_id=account_id)
        after = before
        if checkout.customer_id is not None:
            after = link_customer(after, checkout.customer_id)
            if after.stripe_customer_id != checkout.customer_id:
                log.warning(
                    "Checkout session %s paid with customer %s, but account %s is billed as customer %s",
                    checkout.session_id,
                    checkout.customer_id,
                    account_id,
                    after.stripe_customer_id,
                )
        if checkout.subscription_id is not None:
            try:
                snapshot = self._gateway.fetch_subscription(checkout.subscription_id)
            except BillingUnavailable as error:
                # The customer.subscription.* events carry the same state; they will set it.
                log.warning("Could not fetch subscription %s: %s", checkout.subscription_id, error)
            else:
                # The fetched state is at least as new as the event that announced it.
                return self._take_subscription(uow, event, before, after, snapshot)
        return self._save_if_changed(uow, before, after)

    def _take_subscription(
        self,
        uow: UnitOfWork,
        event: BillingEvent,
        before: Subscription,
        current: Subscription,
        snapshot: SubscriptionSnapshot,
    ) -> EventOutcome:
        """Apply news of `snapshot` to the account (`current`, stored as `before`), keeping one live plan.

        A live subscription the account does not track yet may be a second one (two Checkouts paid, a plan
        made in the Dashboard): Stripe is asked for all of the customer's, the oldest is kept, and each other
        is canceled and its payments refunded, and the operator told.
        """
        if snapshot.status in NEVER_CHARGES_AGAIN or snapshot.subscription_id == current.stripe_subscription_id:
            return self._save_if_changed(uow, before, apply_subscription_state(current, snapshot, event.created))
        live = self._gateway.customer_subscriptions(snapshot.customer_id)
        if not live or [s.subscription_id for s in live] == [snapshot.subscription_id]:
            return self._save_if_changed(uow, before, apply_subscription_state(current, snapshot, event.created))
        kept = self._keep_oldest(uow, event, before, current, live)
        # News of a subscription other than the one kept (canceled now, or by an earlier event) changes nothing.
        return (
            EventOutcome.APPLIED
            if snapshot.subscription_id == kept.subscription_id
            else EventOutcome.SECOND_SUBSCRIPTION
        )

    def _keep_oldest(
        self,
        uow: UnitOfWork,
        event: BillingEvent,
        before: Subscription,
        current: Subscription,
        live: list[SubscriptionSnapshot],
    ) -> SubscriptionSnapshot:
        """Of the customer's live subscriptions (oldest first), keep the oldest as the account's plan and
        cancel each other one, refunding its payments and telling the operator."""
        kept, extras = live[0], live[1:]
        for extra in extras:
            self._gateway.cancel_subscription(extra.subscription_id)
            refunded = self._gateway.refund_subscription_payments(extra.subscription_id)
            report = DuplicateSubscriptionReport(
                account_id=before.account_id,
                customer_id=extra.customer_id,
                kept_subscription_id=kept.subscription_id,
                canceled_subscription_id=extra.subscription_id,
                refunded=refunded,
            )
            log.error(
                "Account %s had a second live subscription %s (kept %s): canceled it and refunded %s",
                report.account_id,
                report.canceled_subscription_id,
                report.kept_subscription_id,
                refunded.format_major() if refunded else "nothing (nothing was charged)",
            )
            self._notifier.duplicate_subscription(report)
        self._save_if_changed(uow, before, adopt_subscription(current, kept, event.created))
        return kept

    def _account_for(self, uow: UnitOfWork, customer_id: str, metadata_account_id: int | None) -> int | None:
        account_id = uow.billing.account_for_customer(customer_id)
        if account_id is None:
            account_id = self._known(uow, metadata_account_id)
        return account_id

    def _subscription_changed(
        self,
        uow: UnitOfWork,
        event: BillingEvent,
        snapshot: SubscriptionSnapshot,
        notices: list[tuple[int, str, BillingNotice]],
    ) -> EventOutcome:
        account_id = self._account_for(uow, snapshot.customer_id, snapshot.account_id)
        if account_id is None:
            log.warning(
                "Stripe event %s is about subscription %s of customer %s, which belongs to no account",
                event.event_id,
                snapshot.subscription_id,
                snapshot.customer_id,
            )
            return EventOutcome.UNKNOWN_CUSTOMER
        before = uow.billing.get(account_id, for_update=True) or Subscription(account_id=account_id)
        outcome = self._take_subscription(uow, event, before, before, snapshot)
        after = uow.billing.get(account_id) or before
        tracked = snapshot.subscription_id == after.stripe_subscription_id
        if (
            event.type == BillingEventType.SUBSCRIPTION_DELETED
            and tracked
            and not before.has_ended
            and after.has_ended
            # After the last failed payment its email already said the plan ended.
            and snapshot.ended_by != "payment_failed"
            and not (before.failed_payment_attempts and before.next_payment_attempt is None)
        ):
            notice = self._notice(uow, account_id, NoticeKind.SUBSCRIPTION_ENDED)
            if notice is not None:
                notices.append((account_id, snapshot.subscription_id, notice))
        if (
            event.type == BillingEventType.SUBSCRIPTION_TRIAL_WILL_END
            and tracked
            and after.stripe_status == "trialing"
            and snapshot.trial_end is not None
            and snapshot.trial_end > self._clock.now()  # Stripe also sends it when a trial is ended early
        ):
            notice = self._notice(uow, account_id, NoticeKind.TRIAL_ENDING, trial_ends_at=snapshot.trial_end)
            if notice is not None:
                notices.append((account_id, _trial_key(snapshot.trial_end), notice))
        return outcome

    def _invoice_event(
        self,
        uow: UnitOfWork,
        event: BillingEvent,
        invoice: InvoiceSnapshot,
        notices: list[tuple[int, str, BillingNotice]],
    ) -> EventOutcome:
        account_id = uow.billing.account_for_customer(invoice.customer_id)
        if account_id is None or uow.accounts.get(account_id) is None:
            log.warning(
                "Stripe event %s is about invoice %s of customer %s, which belongs to no account",
                event.event_id,
                invoice.invoice_id,
                invoice.customer_id,
            )
            return EventOutcome.UNKNOWN_CUSTOMER
        before = uow.billing.get(account_id, for_update=True) or Subscription(account_id=account_id)
        if (
            invoice.subscription_id is not None
            and before.stripe_subscription_id not in (None, invoice.subscription_id)
            and not before.has_ended
        ):
            # An invoice of a plan the account does not pay with: a second subscription, unless Stripe has
            # ended it already.
            live = self._gateway.customer_subscriptions(invoice.customer_id)
            if len(live) > 1:
                self._keep_oldest(uow, event, before, before, live)
                return EventOutcome.SECOND_SUBSCRIPTION
        # Only the latest payment news is told: a failure that arrives after its recovery, or news of a plan
        # that is not the account's, would contradict where the creator stands.
        current = payment_news_is_current(before, invoice, event.created)
        attempt_key = f"{invoice.invoice_id}:{invoice.attempt_count}"
        if event.type == BillingEventType.INVOICE_PAID:
            outcome = self._save_if_changed(uow, before, apply_invoice_paid(before, invoice, event.created))
            if current and (before.failed_payment_attempts > 0 or before.stripe_status == "past_due"):
                notice = self._notice(uow, account_id, NoticeKind.PAYMENT_RECOVERED, amount_due=invoice.amount_due)
                if notice is not None:
                    notices.append((account_id, invoice.invoice_id, notice))
            return outcome
        if event.type == BillingEventType.INVOICE_PAYMENT_ACTION_REQUIRED:
            notice = self._notice(
                uow,
                account_id,
                NoticeKind.PAYMENT_ACTION_REQUIRED,
                amount_due=invoice.amount_due,
                action_url=invoice.hosted_invoice_url,
            )
            if current and notice is not None and notice.state.status is not BillingStatus.CANCELED:
                notices.append((account_id, attempt_key, notice))
            return EventOutcome.APPLIED if current else EventOutcome.UNCHANGED
        outcome = self._save_if_changed(uow, before, apply_payment_failed(before, invoice, event.created))
        notice = self._notice(
            uow,
            account_id,
            NoticeKind.PAYMENT_FAILED,
            attempt=invoice.attempt_count,
            next_attempt=invoice.next_payment_attempt,
            amount_due=invoice.amount_due,
        )
        if current and notice is not None:
            notices.append((account_id, attempt_key, notice))
        return outcome


def _trial_key(trial_ends_at: datetime) -> str:
    # By day: the app's trial end and the Stripe plan's trial end (whole seconds) name the same trial.
    return f"trial:{trial_ends_at.date().isoformat()}"
