"""Telling creators about their billing, by mail, and the operator about billing anomalies."""

from __future__ import annotations

import logging
from datetime import datetime

from core.domain.money import Money
from core.domain.subscriptions import BillingStatus
from core.ports.mailer import Mail, Mailer
from core.services.billing_notices import BillingNotice, DuplicateSubscriptionReport, NoticeKind

log = logging.getLogger(__name__)

_SIGNATURE = "\n\nThe CourseSignal team\n"
_KEEPS_RUNNING = "Your tracking keeps running and nothing is deleted"


def _day(when: datetime) -> str:
    return f"{when:%B} {when.day}, {when.year}"


def _dollars(amount: Money | None) -> str:
    return f" of ${amount.format_major()}" if amount and amount.amount else ""


def billing_message(notice: BillingNotice) -> tuple[str, str]:
    """The subject and plain-text body of a billing email; the words follow where the creator stands now."""
    state, price = notice.state, f"${notice.price.format_major()}/month"
    if notice.kind is NoticeKind.TRIAL_ENDING:
        ends = _day(notice.trial_ends_at) if notice.trial_ends_at else "soon"
        if state.status is BillingStatus.ACTIVE:
            subject = "Your CourseSignal trial ends soon: your plan starts then"
            body = f"Your free trial ends on {ends}. Your subscription ({price}) starts then and your card is charged."
        elif state.status is BillingStatus.ENDING:
            subject = "Your CourseSignal trial ends soon"
            body = (
                f"Your free trial ends on {ends}. You canceled your plan, so nothing will be charged; after that "
                f"day your reports wait for a subscription. {_KEEPS_RUNNING}."
            )
        else:
            subject = "Your CourseSignal trial ends in 3 days"
            body = (
                f"Your free trial ends on {ends}. Subscribe ({price}) to keep seeing which channels sell your "
                f"courses; your first payment is taken when the trial ends. {_KEEPS_RUNNING} if you do not."
            )
        return subject, f"Hello,\n\n{body}\n\nBilling: {notice.billing_url}{_SIGNATURE}"
    if notice.kind is NoticeKind.BETA_ENDING:
        ends = _day(notice.trial_ends_at) if notice.trial_ends_at else "soon"
        body = (
            f"Your 60 free days in the CourseSignal beta end on {ends}. Thank you for your feedback along the way. "
            f"Subscribe ({price}) to keep seeing which channels sell your courses; your first payment is taken "
            f"when the beta ends. {_KEEPS_RUNNING} if you do not."
        )
        return "Your CourseSignal beta ends in 3 days", f"Hello,\n\n{body}\n\nBilling: {notice.billing_url}{_SIGNATURE}"
    if notice.kind is NoticeKind.TRIAL_ENDED:
        body = (
            f"Your free trial has ended. {_KEEPS_RUNNING}: every visit and purchase is still counted, and your "
            f"reports are back as soon as you subscribe ({price})."
        )
        return (
            "Your CourseSignal trial has ended",
            f"Hello,\n\n{body}\n\nSubscribe here: {notice.billing_url}{_SIGNATURE}",
        )
    if notice.kind is NoticeKind.PAYMENT_FAILED:
        if notice.next_attempt is not None:
            subject = "Your CourseSignal payment failed: please update your card"
            outlook = (
                f"We will try again on {_day(notice.next_attempt)}. Your reports stay open in the meantime; "
                "if the last try fails too, your subscription ends."
            )
        else:
            subject = "Your CourseSignal subscription has ended: your card could not be charged"
            outlook = (
                f"That was the last try, so your subscription has ended. {_KEEPS_RUNNING}: subscribe again to see "
                "your reports."
            )
        text = (
            f"Hello,\n\nWe could not charge your card for CourseSignal (payment attempt {notice.attempt})"
            f"{_dollars(notice.amount_due)}.\n{outlook}\n\nUpdate your card here: {notice.billing_url}{_SIGNATURE}"
        )
        return subject, text
    if notice.kind is NoticeKind.PAYMENT_ACTION_REQUIRED:
        where = notice.action_url or notice.billing_url
        body = (
            f"Your bank asks you to confirm your CourseSignal payment{_dollars(notice.amount_due)} before it goes "
            f"through. Confirm it here: {where}\nUntil then your payment is pending; your reports stay open."
        )
        return "Confirm your CourseSignal payment", f"Hello,\n\n{body}\n\nBilling: {notice.billing_url}{_SIGNATURE}"
    if notice.kind is NoticeKind.PAYMENT_RECOVERED:
        renews = f" Your subscription renews on {_day(state.renews_at)}." if state.renews_at else ""
        body = f"Your CourseSignal payment{_dollars(notice.amount_due)} went through: you are all set.{renews}"
        return (
            "Your CourseSignal payment went through",
            f"Hello,\n\n{body}\n\nBilling: {notice.billing_url}{_SIGNATURE}",
        )
    # SUBSCRIPTION_ENDED
    if state.status is BillingStatus.TRIALING and state.trial_ends_at is not None:
        body = (
            f"Your CourseSignal subscription has ended and nothing more will be charged. Your free trial goes on "
            f"until {_day(state.trial_ends_at)}; subscribe again any time."
        )
    else:
        body = (
            f"Your CourseSignal subscription has ended and nothing more will be charged. {_KEEPS_RUNNING}: "
            "subscribe again to see your reports."
        )
    return "Your CourseSignal subscription has ended", f"Hello,\n\n{body}\n\nBilling: {notice.billing_url}{_SIGNATURE}"


def duplicate_subscription_message(report: DuplicateSubscriptionReport) -> tuple[str, str]:
    """The subject and body of the operator's report of a second live subscription."""
    refunded = f"${report.refunded.format_major()} {report.refunded.currency}" if report.refunded else "nothing"
    text = (
        f"Account {report.account_id} (Stripe customer {report.customer_id}) had a second live subscription.\n"
        f"Kept: {report.kept_subscription_id}\nCanceled: {report.canceled_subscription_id}\n"
        f"Refunded: {refunded}\n\nNothing is left to do; this is for your records (and to find out how it "
        "happened, e.g. a subscription made by hand in the Stripe Dashboard).\n"
    )
    return f"CourseSignal billing: a second subscription of account {report.account_id} was canceled", text


class MailingBillingNotifier:
    """Mails each notice to the creator through the Mailer port (SMTP, or the outbox by default), and reports
    to the operator at COURSESIGNAL_OPERATOR_EMAIL (when set; the log has every report either way)."""

    def __init__(self, mailer: Mailer, operator_email: str | None = None) -> None:
        self._mailer = mailer
        self._operator_email = operator_email

    def notify(self, notice: BillingNotice) -> None:
        subject, text = billing_message(notice)
        self._mailer.send(Mail(to=notice.email, subject=subject, text=text))
        log.info("billing notice sent: %s", notice.kind.value)

    def duplicate_subscription(self, report: DuplicateSubscriptionReport) -> None:
        if self._operator_email is None:
            return
        subject, text = duplicate_subscription_message(report)
        self._mailer.send(Mail(to=self._operator_email, subject=subject, text=text))
