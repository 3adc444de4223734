"""Kajabi's JSON:API resources -> domain PurchaseRecord / RefundRecord. Nothing Kajabi-shaped passes.

Purchases: buyer email from the related `customers` resource (and, when a payload names a `member`
besides the customer, that member's email as the recipient's: Kajabi's documented payloads name only the
customer, so in practice a Kajabi sale carries no recipient), amount and currency in minor units,
the related offer's title as the course name, the time in UTC (Kajabi may write site-local offsets), and
Kajabi's own `source`/`referrer` kept as hints. Refunds: `transactions` with action "refund" and a
negative `amount_in_cents`, tied to the purchase they refund.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from core.domain.money import Money, normalize_currency
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.domain.visitors import normalize_email

PLATFORM = "kajabi"

Resource = Mapping[str, Any]


class UnreadableResource(ValueError):
    """A resource without what a record needs (an id, an amount, a time)."""


def index_resources(resources: Iterable[Resource]) -> dict[tuple[str, str], Resource]:
    """`included` (or a webhook payload) by (type, id), to follow relationships."""
    return {(str(r.get("type")), str(r.get("id"))): r for r in resources if isinstance(r, Mapping)}


def related_ids(resource: Resource, relation: str) -> list[str]:
    data = ((resource.get("relationships") or {}).get(relation) or {}).get("data")
    if isinstance(data, Mapping):
        data = [data]
    return [str(item["id"]) for item in data or () if isinstance(item, Mapping) and item.get("id") is not None]


def _related(resource: Resource, relation: str, kind: str, index: Mapping[tuple[str, str], Resource]) -> Resource:
    for related_id in related_ids(resource, relation):
        found = index.get((kind, related_id))
        if found is not None:
            return found
    return {}


def parse_time(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise UnreadableResource("no created_at")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UnreadableResource(f"created_at {value!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _money(attributes: Mapping[str, Any], *, negate: bool = False) -> Money:
    cents = attributes.get("amount_in_cents")
    if not isinstance(cents, int) or isinstance(cents, bool):
        raise UnreadableResource("no amount_in_cents")
    try:
        currency = normalize_currency(str(attributes.get("currency") or "USD"))
    except ValueError as error:
        raise UnreadableResource(str(error)) from None
    return Money(-cents if negate else cents, currency)


def _text(value: Any, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None


def purchase_record(resource: Resource, index: Mapping[tuple[str, str], Resource]) -> PurchaseRecord:
    if resource.get("type") != "purchases" or not resource.get("id"):
        raise UnreadableResource("not a purchase")
    attributes = resource.get("attributes") or {}
    customer = (_related(resource, "customer", "customers", index).get("attributes")) or {}
    offer = (_related(resource, "offer", "offers", index).get("attributes")) or {}
    email = customer.get("email")
    buyer = normalize_email(email) if isinstance(email, str) else None
    member_email = _member_email(resource, index)
    return PurchaseRecord(
        platform=PLATFORM,
        platform_purchase_id=str(resource["id"]),
        amount=_money(attributes),
        purchased_at=parse_time(attributes.get("created_at")),
        email=buyer,
        course_name=_text(offer.get("title"), 500),
        source_hint=_text(attributes.get("source"), 200),
        referrer_hint=_text(attributes.get("referrer"), 2000),
        recipient_email=member_email if member_email != buyer else None,
    )


def _member_email(resource: Resource, index: Mapping[tuple[str, str], Resource]) -> str | None:
    """The email of the `member` a purchase names besides its `customer` (the one given access), whatever
    resource type the relationship points at."""
    data = ((resource.get("relationships") or {}).get("member") or {}).get("data")
    if not isinstance(data, Mapping):
        return None
    member = index.get((str(data.get("type")), str(data.get("id")))) or {}
    email = (member.get("attributes") or {}).get("email")
    return normalize_email(email) if isinstance(email, str) else None


def is_refund(resource: Resource) -> bool:
    attributes = resource.get("attributes") or {}
    return (
        resource.get("type") == "transactions"
        and attributes.get("action") == "refund"
        and attributes.get("state", "succeeded") == "succeeded"
    )


def refund_record(resource: Resource) -> RefundRecord:
    """A refund transaction; its amount is negative at Kajabi and positive in the domain."""
    purchases = related_ids(resource, "purchases")
    if not purchases or not resource.get("id"):
        raise UnreadableResource("a refund without the purchase it refunds")
    attributes = resource.get("attributes") or {}
    return RefundRecord(
        platform=PLATFORM,
        platform_purchase_id=purchases[0],
        platform_refund_id=str(resource["id"]),
        amount=_money(attributes, negate=True),
        refunded_at=parse_time(attributes.get("created_at")),
    )
