"""Stripe's events applied to the creator's subscription: Checkout completed, subscription changes (keeping
one live subscription per customer), invoices paid, failed or waiting for the cardholder; each event once."""

from __future__ import annotations

import logging
from enum import StrEnum

from core.domain.subscriptions import (
    NEVER_CHARGES_AGAIN,
    BillingEvent,
    BillingEventType,
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
)
from core.ports.billing import BillingUnavailable
from core.ports.uow import UnitOfWork
from core.services.billing_notices import (
    BillingNotice,
    BillingNotices,
    DuplicateSubscriptionReport,
    NoticeKind,
    trial_key,
)

log = logging.getLogger(__name__)


class EventOutcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"  # stale or repeated news: the state already says as much, or more
    DUPLICATE = "duplicate"  # this event id was handled before
    IGNORED = "ignored"  # an event type CourseSignal's billing does not use
    UNKNOWN_CUSTOMER = "unknown_customer"  # no account to apply it to: logged, acknowledged, nothing changed
    SECOND_SUBSCRIPTION = "second_subscription_canceled"  # about a second live subscription, canceled and refunded


class StripeEvents(BillingNotices):
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
                notices.append((account_id, trial_key(snapshot.trial_end), notice))
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
