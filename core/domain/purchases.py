"""Purchases brought in from a platform, and how each was matched to a visitor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.domain.money import Money


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
