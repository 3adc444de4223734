"""Records held by the fake Kajabi and their JSON:API serialisation.

Attribute names, nesting and example values copy the Kajabi Public API v1.1.0 spec
(`components.schemas.{purchases,transactions,offers,customers,sites,me}_attributes` and the sample
payloads documented under `GET /v1/hooks/{purchase,payment_succeeded,order_created}_sample`), as
summarised in /work/shared/research/platforms.md section 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

JsonDict = dict[str, Any]

#: Symbols used for `currency_symbol` / `formatted_amount` (sample: `"$"`, `"$10.00"`).
CURRENCY_SYMBOLS: dict[str, str] = {
    "USD": "$",
    "CAD": "$",
    "AUD": "$",
    "NZD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "INR": "₹",
    "BRL": "R$",
}

_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


# --------------------------------------------------------------------------------------------------
# Time helpers
# --------------------------------------------------------------------------------------------------
def parse_offset(offset: str) -> timezone:
    """Turn ``"Z"``, ``"+00:00"`` or ``"-05:00"`` into a fixed-offset timezone (sites are site-local)."""
    if offset in ("Z", "z", "UTC", ""):
        return UTC
    match = _OFFSET_RE.match(offset)
    if not match:
        raise ValueError(f"bad UTC offset {offset!r}; use 'Z' or '+HH:MM'")
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


def format_time(moment: datetime, tz: timezone = UTC) -> str:
    """Serialise like Kajabi: millisecond ISO 8601, ``Z`` for UTC (``2025-07-31T16:59:27.580Z``),
    otherwise the site-local offset (``2026-08-02T20:26:32.995-05:00``)."""
    text = moment.astimezone(tz).isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_time(value: str | datetime | date, tz: timezone = UTC) -> datetime:
    """Parse an ISO 8601 date-time or a bare ``YYYY-MM-DD`` (midnight in ``tz``); naive means ``tz``."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=tz)
    text = value.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=tz)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def format_money(cents: int, currency: str) -> str:
    """``formatted_amount`` as in the payment_succeeded sample (``"$10.00"``; refunds ``"-$10.00"``)."""
    symbol = CURRENCY_SYMBOLS.get(currency, "")
    sign = "-" if cents < 0 else ""
    return f"{sign}{symbol}{abs(cents) / 100:,.2f}" if symbol else f"{sign}{abs(cents) / 100:,.2f} {currency}"


def local_date_of(moment: datetime, tz: timezone) -> date:
    """The calendar date of ``moment`` on the site's clock."""
    return moment.astimezone(tz).date()


def identifier(type_: str, id_: str) -> JsonDict:
    """A JSON:API resource identifier object."""
    return {"id": id_, "type": type_}


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------
@dataclass
class Site:
    """`GET /v1/sites` resource (`sites_attributes`: title, subdomain, created_at, updated_at).

    ``tz`` is the site's local offset: Kajabi serialises some timestamps with it (observed
    ``-05:00``), and `filter[start_date]`/`filter[end_date]` are read as site-local dates here.
    """

    id: str
    title: str
    subdomain: str
    tz: timezone
    created_at: datetime

    def to_resource(self) -> JsonDict:
        return {
            "id": self.id,
            "type": "sites",
            "attributes": {
                "title": self.title,
                "subdomain": self.subdomain,
                "created_at": format_time(self.created_at, self.tz),
                "updated_at": format_time(self.created_at, self.tz),
            },
        }


@dataclass
class Offer:
    """`offers` resource, attributes as in the purchase sample payload."""

    id: str
    site: Site
    title: str
    price_in_cents: int
    currency: str
    token: str
    created_at: datetime
    payment_type: str = "single"

    def to_resource(self) -> JsonDict:
        checkout_url = f"https://{self.site.subdomain}.mykajabi.com/offers/{self.token}"
        free = self.price_in_cents == 0
        return {
            "id": self.id,
            "type": "offers",
            "attributes": {
                "title": self.title,
                "description": None,
                "internal_title": None,
                "currency": self.currency,
                "price_in_cents": self.price_in_cents,
                "payment_type": self.payment_type,
                "token": self.token,
                "image_url": None,
                "payment_method": "stripe_and_paypal",
                "price_description": f"{format_money(self.price_in_cents, self.currency)} {self.currency}",
                "checkout_url": checkout_url,
                "recurring_offer": self.payment_type == "subscription",
                "subscription": self.payment_type == "subscription",
                "one_time": self.payment_type == "single",
                "single": self.payment_type == "single",
                "free": free,
            },
            "relationships": {
                "site": {"data": identifier("sites", self.site.id)},
                "products": {"data": []},
                "forms": {"data": []},
            },
        }


@dataclass
class Customer:
    """`customers` resource, attributes as in the purchase sample payload."""

    id: str
    site: Site
    name: str
    email: str
    created_at: datetime
    external_user_id: str | None = None
    purchases: list[Purchase] = field(default_factory=list, repr=False)

    @property
    def net_revenue_in_cents(self) -> int:
        return sum(t.amount_in_cents for p in self.purchases for t in p.transactions)

    def to_resource(self, api_base: str) -> JsonDict:
        offer_ids = list(dict.fromkeys(p.offer.id for p in self.purchases))
        stamp = format_time(self.created_at, self.site.tz)
        return {
            "id": self.id,
            "type": "customers",
            "attributes": {
                "name": self.name,
                "email": self.email,
                "avatar": None,
                "external_user_id": self.external_user_id,
                "public_bio": None,
                "public_location": None,
                "public_website": None,
                "socials": None,
                # The sample serialises net_revenue as a decimal string in major units ("0.0").
                "net_revenue": str(self.net_revenue_in_cents / 100),
                "sign_in_count": 0,
                "last_request_at": None,
                "bounced_at": None,
                "created_at": stamp,
                "updated_at": stamp,
            },
            "links": {"contact": f"{api_base}/api/v1/contacts/{self.id}"},
            "relationships": {
                "site": {"data": identifier("sites", self.site.id)},
                "contact": {"data": identifier("contacts", self.id)},
                "offers": {
                    "data": [identifier("offers", oid) for oid in offer_ids],
                    "links": {"self": f"{api_base}/api/v1/customers/{self.id}/relationships/offers"},
                },
                "products": {"data": []},
            },
        }


@dataclass
class Purchase:
    """`purchases` resource ("offer purchases"; spec `purchases_attributes`)."""

    id: str
    site: Site
    customer: Customer
    offer: Offer
    amount_in_cents: int
    currency: str
    created_at: datetime
    payment_type: str = "single"
    source: str | None = None
    referrer: str | None = None
    coupon_code: str | None = None
    quantity: int = 1
    deactivated_at: datetime | None = None
    deactivation_reason: str | None = None
    updated_at: datetime | None = None
    transactions: list[Transaction] = field(default_factory=list, repr=False)

    @property
    def refunded_in_cents(self) -> int:
        return -sum(t.amount_in_cents for t in self.transactions if t.action == "refund")

    def to_resource(self, *, for_webhook: bool = False) -> JsonDict:
        tz = self.site.tz
        relationships: JsonDict = {
            "customer": {"data": identifier("customers", self.customer.id)},
            "offer": {"data": identifier("offers", self.offer.id)},
            "products": {"data": []},
        }
        if not for_webhook:  # the index/show schemas also carry `transactions`; the sample payload does not
            relationships["transactions"] = {"data": [identifier("transactions", t.id) for t in self.transactions]}
        return {
            "id": self.id,
            "type": "purchases",
            "attributes": {
                "amount_in_cents": self.amount_in_cents,
                "payment_type": self.payment_type,
                "multipay_payments_made": None,
                "opt_in": False,
                "raw_extra_contact_information": {},
                "currency": self.currency,
                "effective_start_at": None,
                "cardholder_name": None,
                "billing_address_zip": None,
                "deactivated_at": format_time(self.deactivated_at, tz) if self.deactivated_at else None,
                "deactivation_reason": self.deactivation_reason,
                "coupon_code": self.coupon_code,
                "source": self.source,
                "referrer": self.referrer,
                "quantity": self.quantity,
                "created_at": format_time(self.created_at, tz),
                "updated_at": format_time(self.updated_at or self.created_at, tz),
            },
            "relationships": relationships,
        }


@dataclass
class Transaction:
    """`transactions` resource (spec `transactions_attributes`; refunds carry a negative amount)."""

    id: str
    site: Site
    customer: Customer
    purchases: list[Purchase]
    action: str  # charge | refund | subscribe | subscription_charge | free_purchase | test | dispute | ...
    amount_in_cents: int
    currency: str
    created_at: datetime
    state: str = "succeeded"
    payment_type: str | None = None
    sales_tax_in_cents: int = 0

    @property
    def offer(self) -> Offer | None:
        """Deprecated singular `offer` relationship: only set for single-offer transactions."""
        return self.purchases[0].offer if len(self.purchases) == 1 else None

    def to_resource(self, *, for_webhook: bool = False) -> JsonDict:
        offer = self.offer
        relationships: JsonDict = {
            "customer": {"data": identifier("customers", self.customer.id)},
            "offer": {"data": identifier("offers", offer.id) if offer else None},
        }
        if not for_webhook:
            relationships["purchases"] = {"data": [identifier("purchases", p.id) for p in self.purchases]}
        return {
            "id": self.id,
            "type": "transactions",
            "attributes": {
                "action": self.action,
                "state": self.state,
                "payment_type": self.payment_type if self.payment_type is not None else self.action,
                "amount_in_cents": self.amount_in_cents,
                "sales_tax_in_cents": self.sales_tax_in_cents,
                "currency": self.currency,
                "currency_symbol": CURRENCY_SYMBOLS.get(self.currency, ""),
                "formatted_amount": format_money(self.amount_in_cents, self.currency),
                "created_at": format_time(self.created_at, self.site.tz),
            },
            "relationships": relationships,
        }


@dataclass
class Hook:
    """`hooks` resource created by `POST /v1/hooks` (target_url, event, optional resource_id, site)."""

    id: str
    site: Site
    target_url: str
    event: str
    created_at: datetime
    resource_id: str | None = None

    def to_resource(self) -> JsonDict:
        stamp = format_time(self.created_at, self.site.tz)
        return {
            "id": self.id,
            "type": "hooks",
            "attributes": {
                "target_url": self.target_url,
                "event": self.event,
                "resource_id": self.resource_id,
                "created_at": stamp,
                "updated_at": stamp,
            },
            "relationships": {"site": {"data": identifier("sites", self.site.id)}},
        }
