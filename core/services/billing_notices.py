"""The billing emails a creator gets (each at most once per occasion), the notifier port that sends them, and
the base of the subscriptions service: its collaborators and how one notice is built and sent once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from core.domain.money import Money
from core.domain.subscriptions import (
    PLAN_PRICE,
    BillingState,
    state_of,
)
from core.ports.billing import BillingGateway
from core.ports.clock import Clock
from core.ports.uow import UnitOfWork

log = logging.getLogger(__name__)


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


class BillingNotices:
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


def trial_key(trial_ends_at: datetime) -> str:
    # By day: the app's trial end and the Stripe plan's trial end (whole seconds) name the same trial.
    return f"trial:{trial_ends_at.date().isoformat()}"
