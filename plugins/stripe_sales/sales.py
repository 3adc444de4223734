"""A creator's Stripe objects (as plain dicts) read into CourseSignal's purchases and refunds.

One sale is one purchase, however many objects tell of it: the payment intent, its charge and the
Checkout Session that made it all name the same sale, so the purchase is keyed by the payment intent's id
(the charge's own id for a charge made without one). Whichever arrives first is stored; the others fill in
what it lacked (the session brings `client_reference_id`, the tracker's visitor id).

The product spec asks creators to set `metadata.course_name` and `metadata.customer_email`; when absent,
the buyer's email falls back to the receipt email, the billing details, the Checkout customer details and
finally the Customer object, and the course to the description or the Checkout line items.

Stripe has no notion of a gift: a creator who sells gifts asks for the student's email in a Checkout custom
field (key `studentemail`, `recipientemail` or `giftemail`) or puts it in `metadata.student_email` or
`metadata.recipient_email`; it becomes the purchase's recipient email when it is not the buyer's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coursesignal import Money, PurchaseRecord, RefundRecord

PLATFORM = "stripe"
#: What the tracker puts in `client_reference_id` (Stripe allows up to 200 characters of anything).
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_TEXT = 500


class UnreadableObject(ValueError):
    """A Stripe object without what a purchase needs (an id, an amount, a currency, a time)."""


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:MAX_TEXT] or None


def _email(value: Any) -> str | None:
    text = _text(value)
    if text is None:
        return None
    text = text.lower()
    local, at, domain = text.partition("@")
    return text if at and local and "." in domain and len(text) <= 254 and " " not in text else None


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _nested(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def _id(value: Any, prefix: str) -> str | None:
    """An object id, or the id of an expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value.startswith(prefix) and len(value) <= 255 else None


def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnreadableObject(f"not an amount in minor units: {value!r}")
    return value


def _time(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UnreadableObject(f"not a Unix time: {value!r}")
    return datetime.fromtimestamp(value, UTC)


def _money(amount: Any, currency: Any) -> Money:
    if not isinstance(currency, str):
        raise UnreadableObject(f"not a currency: {currency!r}")
    try:
        return Money(_amount(amount), currency.upper())
    except ValueError as error:
        raise UnreadableObject(str(error)) from None


def first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


RECIPIENT_METADATA = ("student_email", "recipient_email")
#: Checkout custom field keys (alphanumeric, as Stripe requires them) that ask for the student's email.
RECIPIENT_FIELDS = frozenset({"studentemail", "recipientemail", "giftemail", "giftrecipientemail"})


def recipient_email(obj: Mapping[str, Any]) -> str | None:
    """The student's email a creator asked for on a gift: a Checkout custom field, else the metadata."""
    fields = obj.get("custom_fields")
    for field in fields if isinstance(fields, list) else ():
        if not isinstance(field, Mapping) or not isinstance(field.get("key"), str):
            continue
        if re.sub(r"[^a-z0-9]", "", field["key"].lower()) in RECIPIENT_FIELDS:
            found = _email(_nested(field, "text", "value"))
            if found:
                return found
    metadata = _metadata(obj)
    return first(*(_email(metadata.get(key)) for key in RECIPIENT_METADATA))


@dataclass(frozen=True, slots=True)
class Sale:
    """What one Stripe object says about a sale, before it becomes a PurchaseRecord."""

    key: str  # the payment intent's id, else the charge's
    amount: Money
    purchased_at: datetime
    email: str | None = None
    course_name: str | None = None
    visitor_key: str | None = None
    customer_id: str | None = None  # to look the email up when nothing else gives one
    session_id: str | None = None  # to look the course up in the line items
    recipient_email: str | None = None  # the student's, on a gift

    def record(self, *, email: str | None = None, course_name: str | None = None) -> PurchaseRecord:
        buyer = self.email or email
        return PurchaseRecord(
            platform=PLATFORM,
            platform_purchase_id=self.key,
            amount=self.amount,
            purchased_at=self.purchased_at,
            email=buyer,
            course_name=self.course_name or course_name,
            visitor_key=self.visitor_key,
            recipient_email=self.recipient_email if self.recipient_email != buyer else None,
        )


def sale_from_payment_intent(intent: Mapping[str, Any]) -> Sale:
    key = _id(intent.get("id"), "pi_")
    if key is None:
        raise UnreadableObject("a payment intent without an id")
    received = intent.get("amount_received")
    metadata = _metadata(intent)
    return Sale(
        key=key,
        amount=_money(received if received else intent.get("amount"), intent.get("currency")),
        purchased_at=_time(intent.get("created")),
        email=first(_email(metadata.get("customer_email")), _email(intent.get("receipt_email"))),
        course_name=first(_text(metadata.get("course_name")), _text(intent.get("description"))),
        customer_id=_id(intent.get("customer"), "cus_"),
        recipient_email=recipient_email(intent),
    )


def sale_from_charge(charge: Mapping[str, Any]) -> Sale:
    charge_id = _id(charge.get("id"), "ch_") or _id(charge.get("id"), "py_")
    if charge_id is None:
        raise UnreadableObject("a charge without an id")
    metadata = _metadata(charge)
    captured = charge.get("amount_captured")
    return Sale(
        key=_id(charge.get("payment_intent"), "pi_") or charge_id,
        amount=_money(captured if captured else charge.get("amount"), charge.get("currency")),
        purchased_at=_time(charge.get("created")),
        email=first(
            _email(metadata.get("customer_email")),
            _email(charge.get("receipt_email")),
            _email(_nested(charge, "billing_details", "email")),
        ),
        course_name=first(_text(metadata.get("course_name")), _text(charge.get("description"))),
        customer_id=_id(charge.get("customer"), "cus_"),
        recipient_email=recipient_email(charge),
    )


def sale_from_session(session: Mapping[str, Any]) -> Sale | None:
    """A paid one-time Checkout; None for a session that is not (yet) a sale of its own: unpaid, or a
    subscription's (its invoice's payment tells of the money)."""
    intent = _id(session.get("payment_intent"), "pi_")
    if intent is None or session.get("payment_status") != "paid":
        return None
    metadata = _metadata(session)
    reference = _text(session.get("client_reference_id"))
    return Sale(
        key=intent,
        amount=_money(session.get("amount_total"), session.get("currency")),
        purchased_at=_time(session.get("created")),
        email=first(
            _email(metadata.get("customer_email")),
            _email(_nested(session, "customer_details", "email")),
            _email(session.get("customer_email")),
        ),
        course_name=first(_text(metadata.get("course_name")), line_items_course(session.get("line_items"))),
        visitor_key=reference if reference and VISITOR_ID.match(reference) else None,
        customer_id=_id(session.get("customer"), "cus_"),
        session_id=_id(session.get("id"), "cs_"),
        recipient_email=recipient_email(session),
    )


def line_items_course(line_items: Any) -> str | None:
    """The course a Checkout sold, from its (expanded) line items: their descriptions, joined."""
    data = line_items.get("data") if isinstance(line_items, Mapping) else line_items
    if not isinstance(data, list):
        return None
    names = [name for item in data if isinstance(item, Mapping) and (name := _text(item.get("description")))]
    return _text(" + ".join(dict.fromkeys(names))) if names else None


def refund_from_charge(charge: Mapping[str, Any], refunded_at: datetime) -> RefundRecord | None:
    """The charge's refunds as one record at Stripe's running `amount_refunded`: a second partial refund
    comes as the same refund id with a larger amount, which raises the stored refund (never adds twice)."""
    refunded = _amount(charge.get("amount_refunded") or 0)
    if refunded == 0:
        return None
    sale = sale_from_charge(charge)
    charge_id = str(charge["id"])
    return RefundRecord(
        platform=PLATFORM,
        platform_purchase_id=sale.key,
        platform_refund_id=f"{charge_id}:refunded",
        amount=Money(min(refunded, sale.amount.amount), sale.amount.currency),
        refunded_at=refunded_at,
    )


def is_paid_charge(charge: Mapping[str, Any]) -> bool:
    return (
        charge.get("status") == "succeeded" and charge.get("paid") is not False and charge.get("captured") is not False
    )
