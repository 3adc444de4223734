"""Telling creators about their billing. Until the Mailer port lands, the notices go to the log."""

from __future__ import annotations

import logging

from core.services.subscriptions import PaymentFailedNotice

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


class LoggingBillingNotifier:
    """Writes each notice to the log: the embedded default until a Mailer stands behind BillingNotifier."""

    def payment_failed(self, notice: PaymentFailedNotice) -> None:
        subject, text = payment_failed_message(notice)
        log.warning("Billing notice to %s: %s\n%s", notice.email, subject, text)
