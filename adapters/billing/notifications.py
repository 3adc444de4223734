"""Telling creators about their billing, by mail."""

from __future__ import annotations

import logging

from core.ports.mailer import Mail, Mailer
from core.services.subscriptions import DuplicateSubscriptionReport, PaymentFailedNotice

log = logging.getLogger(__name__)


def payment_failed_message(notice: PaymentFailedNotice) -> tuple[str, str]:
    """The subject and plain-text body of the email sent at each failed payment."""
    amount = f" of ${notice.amount_due.format_major()}" if notice.amount_due and notice.amount_due.amount else ""
    if notice.next_attempt is not None:
        subject = "Your CourseSignal payment failed: please update your card"
        when = f"{notice.next_attempt:%B} {notice.next_attempt.day}, {notice.next_attempt.year}"
        outlook = (
            f"We will try again on {when}. Your reports stay open in the meantime; "
            "if the last try fails too, your subscription ends."
        )
    else:
        subject = "Your CourseSignal subscription has ended: your card could not be charged"
        outlook = (
            "That was the last try, so your subscription has ended. Your tracking keeps running and nothing "
            "is deleted: subscribe again to see your reports."
        )
    text = (
        f"Hello,\n\nWe could not charge your card for CourseSignal (payment attempt {notice.attempt}){amount}.\n"
        f"{outlook}\n\nUpdate your card here: {notice.fix_card_url}\n\nThe CourseSignal team\n"
    )
    return subject, text


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

    def duplicate_subscription(self, report: DuplicateSubscriptionReport) -> None:
        if self._operator_email is None:
            return
        subject, text = duplicate_subscription_message(report)
        self._mailer.send(Mail(to=self._operator_email, subject=subject, text=text))

    def payment_failed(self, notice: PaymentFailedNotice) -> None:
        subject, text = payment_failed_message(notice)
        self._mailer.send(Mail(to=notice.email, subject=subject, text=text))
        log.info("billing notice sent: payment attempt %s failed", notice.attempt)
