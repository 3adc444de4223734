"""Telling creators about their billing, by mail."""

from __future__ import annotations

import logging

from core.ports.mailer import Mail, Mailer
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


class MailingBillingNotifier:
    """Mails each notice to the creator through the Mailer port (SMTP, or the outbox by default)."""

    def __init__(self, mailer: Mailer) -> None:
        self._mailer = mailer

    def payment_failed(self, notice: PaymentFailedNotice) -> None:
        subject, text = payment_failed_message(notice)
        self._mailer.send(Mail(to=notice.email, subject=subject, text=text))
        log.info("billing notice sent: payment attempt %s failed", notice.attempt)
