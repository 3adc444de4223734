"""In-memory data of the fake Kajabi account: sites, offers, customers, purchases, transactions, hooks.

Relations follow the Public API: a purchase belongs to a customer and an offer (`relationships.customer`,
`relationships.offer`); a transaction covers one or more purchases (`relationships.purchases`, the
singular `offer` being deprecated since API 1.1.0); refunds are separate ``action: "refund"``
transactions with a negative ``amount_in_cents`` (spec `/v1/transactions/{id}`), and a fully refunded
purchase gets ``deactivated_at`` (research §1.9). Ids are numeric strings like Kajabi's ("2150523894").
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from .models import Customer, Hook, JsonDict, Offer, Purchase, Site, Transaction, parse_offset, parse_time

R = TypeVar("R")

#: Events accepted by `POST /v1/hooks` and the key scopes each one requires (spec table).
HOOK_EVENT_SCOPES: dict[str, frozenset[str]] = {
    "purchase": frozenset({"view:purchases"}),
    "payment_succeeded": frozenset({"view:transactions"}),
    "order_created": frozenset({"view:transactions", "view:orders"}),
    "form_submission": frozenset({"view:form_submissions"}),
    "tag_added": frozenset({"view:contacts"}),
    "tag_removed": frozenset({"view:contacts"}),
}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "site"


class Store:
    """All records, keyed by id. Callers hold the fake's lock while using it."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._ids = itertools.count(2_150_000_001)
        self._order_numbers = itertools.count(1001)
        self.sites: dict[str, Site] = {}
        self.offers: dict[str, Offer] = {}
        self.customers: dict[str, Customer] = {}
        self.purchases: dict[str, Purchase] = {}
        self.transactions: dict[str, Transaction] = {}
        self.hooks: dict[str, Hook] = {}
        self.order_numbers: dict[str, int] = {}  # transaction id -> order_number (order_created payloads)

    def next_id(self) -> str:
        return str(next(self._ids))

    def now(self) -> datetime:
        return self._now()

    # ---- lookups ---------------------------------------------------------------------------------
    @staticmethod
    def _resolve(table: dict[str, R], ref: R | str | int, kind: str) -> R:
        """Accept either a record or its id (``str``/``int``)."""
        if isinstance(ref, str | int):
            try:
                return table[str(ref)]
            except KeyError:
                raise KeyError(f"no {kind} with id {ref}") from None
        return ref

    def site(self, ref: Site | str | int | None) -> Site:
        if ref is None:
            return next(iter(self.sites.values())) if self.sites else self.add_site("My Kajabi Site")
        return self._resolve(self.sites, ref, "site")

    def offer(self, ref: Offer | str | int) -> Offer:
        return self._resolve(self.offers, ref, "offer")

    def customer(self, ref: Customer | str | int) -> Customer:
        return self._resolve(self.customers, ref, "customer")

    def purchase(self, ref: Purchase | str | int) -> Purchase:
        return self._resolve(self.purchases, ref, "purchase")

    def transaction(self, ref: Transaction | str | int) -> Transaction:
        return self._resolve(self.transactions, ref, "transaction")

    # ---- writes ----------------------------------------------------------------------------------
    def add_site(
        self,
        title: str,
        *,
        subdomain: str | None = None,
        utc_offset: str = "Z",
        created_at: datetime | str | None = None,
    ) -> Site:
        site = Site(
            id=self.next_id(),
            title=title,
            subdomain=subdomain or _slug(title),
            tz=parse_offset(utc_offset),
            created_at=parse_time(created_at) if created_at else self.now(),
        )
        self.sites[site.id] = site
        return site

    def add_offer(
        self,
        title: str,
        price_in_cents: int,
        currency: str = "USD",
        *,
        site: Site | str | None = None,
        payment_type: str = "single",
    ) -> Offer:
        offer = Offer(
            id=self.next_id(),
            site=self.site(site),
            title=title,
            price_in_cents=price_in_cents,
            currency=currency.upper(),
            token=secrets.token_urlsafe(6)[:8],
            created_at=self.now(),
            payment_type=payment_type,
        )
        self.offers[offer.id] = offer
        return offer

    def add_customer(
        self,
        email: str,
        name: str,
        *,
        site: Site | str | None = None,
        created_at: datetime | str | None = None,
        external_user_id: str | None = None,
    ) -> Customer:
        customer = Customer(
            id=self.next_id(),
            site=self.site(site),
            name=name,
            email=email,
            created_at=parse_time(created_at) if created_at else self.now(),
            external_user_id=external_user_id,
        )
        self.customers[customer.id] = customer
        return customer

    def add_purchase(
        self,
        customer: Customer | str,
        offer: Offer | str,
        amount_in_cents: int | None = None,
        currency: str | None = None,
        created_at: datetime | str | None = None,
        source: str | None = None,
        referrer: str | None = None,
        *,
        coupon_code: str | None = None,
        quantity: int = 1,
        sales_tax_in_cents: int = 0,
    ) -> Purchase:
        """A purchase plus the matching successful ``charge`` transaction (free offers get none:
        `/v1/transactions` excludes free purchases)."""
        cust, off = self.customer(customer), self.offer(offer)
        moment = parse_time(created_at) if created_at else self.now()
        amount = off.price_in_cents * quantity if amount_in_cents is None else amount_in_cents
        purchase = Purchase(
            id=self.next_id(),
            site=off.site,
            customer=cust,
            offer=off,
            amount_in_cents=amount,
            currency=(currency or off.currency).upper(),
            created_at=moment,
            payment_type=off.payment_type,
            source=source,
            referrer=referrer,
            coupon_code=coupon_code,
            quantity=quantity,
        )
        self.purchases[purchase.id] = purchase
        cust.purchases.append(purchase)
        if cust.created_at > moment:  # a customer record exists from their first purchase on
            cust.created_at = moment
        if amount > 0:
            self._add_transaction(purchase, "charge", amount, moment, sales_tax_in_cents=sales_tax_in_cents)
        return purchase

    def refund(
        self, purchase: Purchase | str, amount_in_cents: int | None = None, created_at: datetime | str | None = None
    ) -> Transaction:
        """A ``refund`` transaction (negative amount); a full refund deactivates the purchase."""
        bought = self.purchase(purchase)
        remaining = bought.amount_in_cents - bought.refunded_in_cents
        amount = remaining if amount_in_cents is None else abs(amount_in_cents)
        if amount <= 0 or amount > remaining:
            raise ValueError(f"cannot refund {amount} of purchase {bought.id}: {remaining} left")
        moment = parse_time(created_at) if created_at else self.now()
        txn = self._add_transaction(bought, "refund", -amount, moment)
        if bought.refunded_in_cents >= bought.amount_in_cents:
            bought.deactivated_at = moment
            bought.deactivation_reason = "refunded"
        bought.updated_at = moment
        return txn

    def _add_transaction(
        self, purchase: Purchase, action: str, amount: int, moment: datetime, sales_tax_in_cents: int = 0
    ) -> Transaction:
        txn = Transaction(
            id=self.next_id(),
            site=purchase.site,
            customer=purchase.customer,
            purchases=[purchase],
            action=action,
            amount_in_cents=amount,
            currency=purchase.currency,
            created_at=moment,
            sales_tax_in_cents=sales_tax_in_cents,
        )
        self.transactions[txn.id] = txn
        purchase.transactions.append(txn)
        return txn

    def add_hook(self, site: Site, target_url: str, event: str, resource_id: str | None = None) -> Hook:
        hook = Hook(
            id=self.next_id(),
            site=site,
            target_url=target_url,
            event=event,
            created_at=self.now(),
            resource_id=resource_id,
        )
        self.hooks[hook.id] = hook
        return hook

    def order_number(self, txn: Transaction) -> int:
        if txn.id not in self.order_numbers:
            self.order_numbers[txn.id] = next(self._order_numbers)
        return self.order_numbers[txn.id]

    # ---- reads used by the HTTP layer ------------------------------------------------------------
    def related(self, record: Any, relation: str) -> list[Any]:
        """Records behind ``include=<relation>`` for purchases, transactions and customers."""
        relations: dict[str, list[Any]] = {}
        if isinstance(record, Purchase):
            relations = {
                "customer": [record.customer],
                "offer": [record.offer],
                "transactions": list(record.transactions),
            }
        elif isinstance(record, Transaction):
            offer = record.offer
            relations = {
                "customer": [record.customer],
                "purchases": list(record.purchases),
                "offer": [offer] if offer else [],
            }
        elif isinstance(record, Customer):
            relations = {
                "site": [record.site],
                "offers": list({p.offer.id: p.offer for p in record.purchases}.values()),
            }
        if relations:
            return relations.get(relation, [])
        if isinstance(record, Offer | Hook):
            return [record.site] if relation == "site" else []
        return []

    def included(self, records: Iterable[Any], relations: tuple[str, ...], api_base: str) -> list[JsonDict]:
        """The deduplicated ``included`` array for a page of records."""
        seen: dict[tuple[type, str], JsonDict] = {}
        for record in records:
            for relation in relations:
                for other in self.related(record, relation):
                    key = (type(other), other.id)
                    if key not in seen:
                        seen[key] = serialize(other, api_base)
        return list(seen.values())


def serialize(record: Any, api_base: str) -> JsonDict:
    """The API representation of any record."""
    if isinstance(record, Customer):
        return record.to_resource(api_base)
    resource: JsonDict = record.to_resource()
    return resource
