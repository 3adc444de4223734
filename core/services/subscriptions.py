"""The creator's own subscription to CourseSignal: trial, Checkout, the Customer Portal and Stripe's events."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from core.domain.money import Money
from core.domain.subscriptions import (
    NEVER_CHARGES_AGAIN,
    PLAN_PRICE,
    BillingState,
    BillingStatus,
    Subscription,
    adopt_subscription,
    link_customer,
    state_of,
    trial_end_for_checkout,
)
from core.ports.billing import CheckoutRequest
from core.services.billing_notices import TRIAL_ENDED_NOTICE_WINDOW, TRIAL_ENDING_NOTICE, NoticeKind, trial_key
from core.services.stripe_events import StripeEvents


class BillingActionRefused(Exception):
    """The creator asked for something their billing state does not allow; `str(error)` says why and what next."""


ALREADY_SUBSCRIBED = "You are already subscribed: use Manage billing to change your card or plan."


@dataclass(frozen=True, slots=True)
class BillingOverview(BillingState):
    """The account's billing state, and what the Billing page needs besides."""

    can_manage: bool  # there is a Stripe customer to open the Customer Portal for
    price: Money


class Subscriptions(StripeEvents):
    """The creator's subscription: the billing state, Checkout and the Portal, the free trial's reminders; Stripe's
    events in stripe_events.py, the emails in billing_notices.py."""

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
                if self._send_once(uow, account_id, trial_key(trial_ends_at), notice):
                    sent += 1
                uow.commit()
        return sent
