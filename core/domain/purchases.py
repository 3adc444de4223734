"""Purchases brought in from a platform, and how each was matched to a visitor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from core.domain.money import Money, is_known_currency
from core.domain.visitors import normalize_email


class AttributionStatus(StrEnum):
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    # The buyer asked to be erased: the sale stays for the revenue totals, with no one attached to it.
    ERASED = "erased"


class MatchMethod(StrEnum):
    """How a purchase found its buyer's visits, strongest first: the order the rules are tried in."""

    VISITOR_ID = "visitor_id"  # our visitor id rode into the purchase (client_reference_id, metadata)
    EMAIL = "email"  # the buyer's email was identified on a tracked visit
    RECIPIENT_EMAIL = "recipient_email"  # the student's or gift recipient's email was
    FINGERPRINT = "fingerprint"  # the one browser that reached checkout just before, by fingerprint

    @property
    def confidence(self) -> int:
        """How sure the match is, in percent: shown to creators next to each purchase."""
        return _CONFIDENCE[self]


class UnmatchedReason(StrEnum):
    """Why no rule found the buyer of a sale: shown to the creator next to it (reports.PurchaseRow)."""

    NO_BUYER = "no_buyer"  # the sale names no email and carries no visitor id, and no one browser fits its time
    NOT_SEEN = "not_seen"  # no browser gave the sale's emails or carried its id, none reached checkout before it
    NO_VISIT_IN_WINDOW = "no_visit_in_window"  # the buyer is known, but made no visit before it inside the lookback
    TIE = "tie"  # browsers that no email ties to the buyer reached checkout just before it: timing cannot choose


# The most a match through a server-derived visitor id can be trusted.
DERIVED_VISITOR_CONFIDENCE = 50

_CONFIDENCE = {
    MatchMethod.VISITOR_ID: 99,
    MatchMethod.EMAIL: 95,
    MatchMethod.RECIPIENT_EMAIL: 85,
    MatchMethod.FINGERPRINT: 60,
}


@dataclass(frozen=True, slots=True)
class PurchaseRecord:
    """A purchase exactly as a platform reports it, already validated, before it is stored."""

    platform: str
    platform_purchase_id: str
    amount: Money
    purchased_at: datetime
    email: str | None = None
    course_name: str | None = None
    visitor_key: str | None = None  # a tracker visitor id carried through checkout, when there is one
    # What the platform itself recorded about where the buyer came from (Kajabi's `source` and
    # `referrer`): kept as hints for purchases our tracker cannot match, never used as a touch.
    source_hint: str | None = None
    referrer_hint: str | None = None
    recipient_email: str | None = None  # the student's email when someone else paid (a gift)


@dataclass(slots=True)
class Purchase:
    account_id: int
    platform: str
    platform_purchase_id: str
    amount: Money
    purchased_at: datetime
    email: str | None = None
    course_name: str | None = None
    visitor_key: str | None = None
    source_hint: str | None = None
    referrer_hint: str | None = None
    visitor_id: int | None = None
    status: AttributionStatus = AttributionStatus.UNMATCHED
    match_method: MatchMethod | None = None
    id: int | None = None
    recipient_email: str | None = None
    match_confidence: int | None = None
    rules_version: int | None = None  # the attribution rules this purchase was last attributed with
    unmatched_reason: UnmatchedReason | None = None  # why it is unmatched, when it is

    @classmethod
    def from_record(cls, account_id: int, record: PurchaseRecord) -> Purchase:
        return cls(
            account_id=account_id,
            platform=record.platform,
            platform_purchase_id=record.platform_purchase_id,
            amount=record.amount,
            purchased_at=record.purchased_at,
            email=record.email,
            course_name=record.course_name,
            visitor_key=record.visitor_key,
            source_hint=record.source_hint,
            referrer_hint=record.referrer_hint,
            recipient_email=record.recipient_email,
        )

    def complete_from(self, record: PurchaseRecord) -> bool:
        """Fill what this purchase lacks from a later record of the same sale (Stripe tells of one sale in
        a payment and in a Checkout Session, in either order: the session brings our visitor id). Nothing
        known is overwritten; True when something was added, so the purchase is attributed again."""
        added = False
        for name in ("email", "course_name", "visitor_key", "recipient_email"):
            if getattr(self, name) is None and getattr(record, name) is not None:
                setattr(self, name, getattr(record, name))
                added = True
        return added

    def match(self, visitor_id: int, method: MatchMethod, *, derived_visitor: bool = False) -> None:
        """`derived_visitor`: the buyer's browser kept no id of its own, so its visits were pieced together
        by the server for a day at a time: the match is weaker and says so."""
        self.visitor_id = visitor_id
        self.match_method = method
        self.match_confidence = (
            min(method.confidence, DERIVED_VISITOR_CONFIDENCE) if derived_visitor else method.confidence
        )
        self.status = AttributionStatus.MATCHED
        self.unmatched_reason = None

    def unmatch(self, reason: UnmatchedReason | None = None) -> None:
        self.visitor_id = None
        self.match_method = None
        self.match_confidence = None
        self.status = AttributionStatus.UNMATCHED
        self.unmatched_reason = reason

    def erase_buyer(self) -> None:
        """Detach the person (an erasure request): the amount, time and course stay, who bought goes.

        The platform's purchase id stays so the same sale delivered again is recognised, not imported anew
        with the buyer's email.
        """
        self.unmatch()
        self.email = None
        self.recipient_email = None
        self.visitor_key = None
        self.referrer_hint = None
        self.status = AttributionStatus.ERASED

    @property
    def is_erased(self) -> bool:
        return self.status is AttributionStatus.ERASED


@dataclass(frozen=True, slots=True)
class RefundRecord:
    """A refund (full or partial) of a purchase, as a platform reports it."""

    platform: str
    platform_purchase_id: str
    platform_refund_id: str
    amount: Money  # positive: how much went back to the buyer
    refunded_at: datetime


# What a record from a platform must be before anything of it is stored (docs/plugins.md, "Records"). The
# largest amount is far above any course's price and far below what the database's 64-bit sums can hold.
MAX_AMOUNT = 10**12
EARLIEST_RECORD = datetime(2000, 1, 1, tzinfo=UTC)
#: How far after now a platform's clock may put a record: clocks differ by seconds, not by days.
CLOCK_SKEW = timedelta(minutes=15)
# The longest value of each text field, as the purchases table stores it.
_TEXT_LIMITS = {
    "platform_purchase_id": 255,
    "platform_refund_id": 255,
    "email": 254,
    "recipient_email": 254,
    "course_name": 500,
    "visitor_key": 64,
    "source_hint": 200,
    "referrer_hint": 8000,
}


def _text_problem(name: str, value: object, *, required: bool) -> str | None:
    if value is None:
        return f"{name} is missing" if required else None
    if not isinstance(value, str):
        return f"{name} is not text ({type(value).__name__})"
    if required and not value.strip():
        return f"{name} is empty"
    if len(value) > _TEXT_LIMITS[name]:
        return f"{name} is longer than {_TEXT_LIMITS[name]} characters"
    if "\x00" in value or any(0xD800 <= ord(character) <= 0xDFFF for character in value):
        return f"{name} holds a NUL or an unpaired surrogate, which no text can"
    return None


def _time_problem(name: str, value: object, now: datetime) -> str | None:
    if not isinstance(value, datetime):
        return f"{name} is not a date and time"
    if value.tzinfo is None or value.utcoffset() is None:
        return f"{name} has no time zone"
    if value < EARLIEST_RECORD:
        return f"{name} {value.isoformat()} is before 2000"
    if value > now + CLOCK_SKEW:
        return f"{name} {value.isoformat()} is in the future"
    return None


def _money_problem(value: object) -> str | None:
    if not isinstance(value, Money):
        return "amount is not Money"
    if isinstance(value.amount, bool) or not isinstance(value.amount, int):
        return "amount is not a whole number of minor units"
    if not 0 <= value.amount <= MAX_AMOUNT:
        return f"amount {value.amount} is not between 0 and {MAX_AMOUNT}"
    if not is_known_currency(value.currency):
        return f"currency {value.currency!r} is not an ISO 4217 currency"
    return None


def record_problem(record: object, platform: str, now: datetime) -> str | None:
    """Why a platform's record cannot be stored, or None when it can. `platform` is the name of the platform
    that returned it: a record never speaks for another platform."""
    if not isinstance(record, PurchaseRecord | RefundRecord):
        return f"{type(record).__name__} is neither a PurchaseRecord nor a RefundRecord"
    if record.platform != platform:
        return f"its platform is {record.platform!r}, not {platform!r}"
    problems = [_text_problem("platform_purchase_id", record.platform_purchase_id, required=True)]
    if isinstance(record, PurchaseRecord):
        problems += [
            _money_problem(record.amount),
            _time_problem("purchased_at", record.purchased_at, now),
            *(
                _text_problem(name, getattr(record, name), required=False)
                for name in ("email", "recipient_email", "course_name", "visitor_key", "source_hint", "referrer_hint")
            ),
        ]
        for name in ("email", "recipient_email"):
            address = getattr(record, name)
            if isinstance(address, str) and normalize_email(address) != address.lower():
                problems.append(f"{name} {address[:80]!r} is not an email address")
    else:
        problems += [
            _text_problem("platform_refund_id", record.platform_refund_id, required=True),
            _money_problem(record.amount),
            _time_problem("refunded_at", record.refunded_at, now),
        ]
    return next((problem for problem in problems if problem), None)


def refund_problem(refund: RefundRecord, purchase: Purchase) -> str | None:
    """Why a refund cannot be stored against the purchase it names, or None."""
    if refund.amount.currency != purchase.amount.currency:
        currencies = f"{refund.amount.currency}, its purchase in {purchase.amount.currency}"
        return f"refund {refund.platform_refund_id!r} is in {currencies}"
    if refund.amount.amount > purchase.amount.amount:
        return (
            f"refund {refund.platform_refund_id!r} of {refund.amount.display()} is more than its purchase "
            f"({purchase.amount.display()})"
        )
    return None
