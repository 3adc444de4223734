"""Data subject requests and retention: export and erase a student, export and delete an account, and
delete raw tracker events past their retention age.

A person is found from an email or a tracker visitor id: every visitor id that claimed the email (an
identify) or carries it, the visitor ids on the person's own purchases, and every visitor id handed over
to or from one of those across the creator's domains. Only the emails asked about (or, for a visitor id,
the emails that browser gave) make the person: a browser shared by two people is erased whole, but the
other person's purchases are not detached, only attributed again without those visits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.domain.purchases import Purchase
from core.domain.sites import Account
from core.domain.visitors import normalize_email
from core.ports.clock import Clock
from core.ports.privacy import PersonalDataReader
from core.ports.uow import UnitOfWork
from core.services.accounts import Accounts
from core.services.attribution import attribute_purchase, purchases_affected_by_visitor
from core.services.subscriptions import Subscriptions

log = logging.getLogger(__name__)

# The job that deletes raw tracker events past their retention age, and how often it runs.
RETENTION_TASK = "delete_expired_events"
RETENTION_EVERY_SECONDS = 24 * 3600
# About 25 months: a full year compared with the year before, and a month to spare.
DEFAULT_EVENT_RETENTION = timedelta(days=761)
RETENTION_BATCH = 5000
# What an erased email, visitor id, name, phone or address is replaced with inside the raw deliveries we keep.
REDACTED = "erased"
# A person with more browsers than this is a bug or a shared inbox; the search stops growing there.
MAX_PERSON_VISITORS = 1000


class PersonNotFound(LookupError):
    """Nothing is stored about this email or visitor id for the account."""


class PrivacyRequestInvalid(ValueError):
    """The request names no one (or names someone twice): the message says what to give."""


@dataclass(frozen=True, slots=True)
class Person:
    """Who a request is about, as stored for one account."""

    account_id: int
    visitor_ids: frozenset[int]
    visitor_keys: frozenset[str]
    emails: frozenset[str]
    purchase_ids: frozenset[int]  # the purchases this person made or received
    # The raw platform deliveries naming them (their email, a visitor id, or one of their purchases' ids).
    delivery_ids: frozenset[int] = frozenset()

    @property
    def is_known(self) -> bool:
        return bool(self.visitor_ids or self.purchase_ids or self.delivery_ids)


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure did, in counts; `request_id` names it in the log, which never holds the person."""

    request_id: str
    visitors_erased: int
    purchases_detached: int
    purchases_reattributed: int
    deliveries_redacted: int


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _is_persons(purchase: Purchase, emails: Collection[str], keys: Collection[str], *, gift: bool = True) -> bool:
    """The person bought it (or, with `gift`, was given it): their email or their browser's id is on the sale."""
    return (
        purchase.email in emails
        or (gift and purchase.recipient_email in emails)
        or (purchase.visitor_key is not None and purchase.visitor_key in keys)
    )


def _with_handoffs(uow: UnitOfWork, visitors: set[int]) -> set[int]:
    """The visitors and every visitor id handed over to or from them: the same person on other domains."""
    found, frontier = set(visitors), set(visitors)
    while frontier and len(found) < MAX_PERSON_VISITORS:
        linked: set[int] = set()
        for handoff in uow.identities.handoffs_of(frontier):
            linked |= {handoff.from_visitor_id, handoff.to_visitor_id}
        frontier = linked - found
        found |= frontier
    return found


def find_person(uow: UnitOfWork, account_id: int, *, email: str | None, visitor_key: str | None) -> Person:
    emails: set[str] = set()
    visitors: set[int] = set()
    keys: set[str] = set()
    if email is not None:
        emails.add(email)
    if visitor_key is not None:
        keys.add(visitor_key)
        visitor = uow.visitors.with_key(account_id, visitor_key)
        if visitor is not None and visitor.id is not None:
            visitors = _with_handoffs(uow, {visitor.id})
            emails |= {c.email for c in uow.identities.claims_of(visitors)}
            emails |= {v.email for v in map(uow.visitors.get, visitors) if v is not None and v.email}
    for address in sorted(emails):
        visitors |= {c.visitor_id for c in uow.identities.claims_with_email(account_id, {address})}
        visitors |= {v.id for v in uow.visitors.with_email(account_id, address) if v.id is not None}
    purchases = uow.purchases.involving(account_id, visitor_ids=(), keys=keys, emails=emails)
    for purchase in purchases:
        if purchase.visitor_key and _is_persons(purchase, emails, keys):
            keys.add(purchase.visitor_key)
            buyer = uow.visitors.with_key(account_id, purchase.visitor_key)
            if buyer is not None and buyer.id is not None:
                visitors.add(buyer.id)
    visitors = _with_handoffs(uow, visitors)
    keys |= set(uow.visitors.keys(visitors).values())
    if keys - {visitor_key}:
        purchases = uow.purchases.involving(account_id, visitor_ids=(), keys=keys, emails=emails)
    mine = [p for p in purchases if p.id is not None and _is_persons(p, emails, keys)]
    bought = frozenset(p.id for p in mine if p.id is not None)
    deliveries = uow.webhook_deliveries.mentioning(
        account_id, emails | keys, {p.platform_purchase_id for p in mine if p.platform_purchase_id}
    )
    return Person(account_id, frozenset(visitors), frozenset(keys), frozenset(emails), bought, frozenset(deliveries))


class Privacy:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        reader: PersonalDataReader,
        accounts: Accounts,
        subscriptions: Subscriptions,
        clock: Clock,
        event_retention: timedelta = DEFAULT_EVENT_RETENTION,
    ) -> None:
        self._uow = uow
        self._reader = reader
        self._accounts = accounts
        self._subscriptions = subscriptions
        self._clock = clock
        self._event_retention = event_retention

    @property
    def event_retention(self) -> timedelta:
        return self._event_retention

    @staticmethod
    def _subject(email: str | None, visitor_key: str | None) -> tuple[str | None, str | None]:
        email = email.strip() if email else None
        visitor_key = visitor_key.strip() if visitor_key else None
        if not email and not visitor_key:  # an empty value is no value: say what is missing, not "not both"
            raise PrivacyRequestInvalid("Give the person's email address or their visitor id.")
        if email and visitor_key:
            raise PrivacyRequestInvalid("Give either the person's email address or their visitor id, not both.")
        if email:
            clean = normalize_email(email)
            if clean is None:
                raise PrivacyRequestInvalid("That is not an email address; check it and try again.")
            return clean, None
        return None, visitor_key

    def find(self, account_id: int, *, email: str | None = None, visitor_key: str | None = None) -> Person:
        email, visitor_key = self._subject(email, visitor_key)
        with self._uow() as uow:
            return find_person(uow, account_id, email=email, visitor_key=visitor_key)

    # --- a student's data -------------------------------------------------------------------------

    def export_person(
        self, account_id: int, *, email: str | None = None, visitor_key: str | None = None
    ) -> dict[str, Any]:
        """Everything stored about the person, by table. Raises PersonNotFound when nothing is."""
        person = self.find(account_id, email=email, visitor_key=visitor_key)
        if not person.is_known:
            raise PersonNotFound("Nothing is stored about this person for your account.")
        rows = self._reader.person_rows(account_id, person.visitor_ids, person.purchase_ids, person.delivery_ids)
        return {
            "kind": "coursesignal.person_export",
            "exported_at": _iso(self._clock.now()),
            "asked_for": {"email": email, "visitor_id": visitor_key},
            "emails": sorted(person.emails),
            "visitor_ids": sorted(person.visitor_keys),
            "tables": {name: list(table) for name, table in rows.items()},
        }

    def erase_person(
        self, account_id: int, *, email: str | None = None, visitor_key: str | None = None
    ) -> ErasureReport:
        """Erase the person: their visitors with every visit, event and identity fact go, their purchases
        stay for the revenue totals with no buyer attached, and every purchase the erased visits took part
        in is attributed again without them. One transaction: all of it or nothing."""
        request_id = uuid.uuid4().hex
        email, visitor_key = self._subject(email, visitor_key)
        detached = reattributed = redacted = 0
        with self._uow() as uow:
            # After the writers of the account's visits and purchases: a visit being stored for the person
            # right now is committed first and erased with the rest, never left behind.
            uow.inbound_events.lock_account(account_id)
            person = find_person(uow, account_id, email=email, visitor_key=visitor_key)
            affected: dict[int, None] = dict.fromkeys(sorted(person.purchase_ids))
            for visitor_id in sorted(person.visitor_ids):
                for purchase in purchases_affected_by_visitor(uow, account_id, visitor_id):
                    if purchase.id is not None:
                        affected[purchase.id] = None
            for visitor_id in sorted(person.visitor_ids):
                uow.visitors.delete(visitor_id)
            for purchase_id in affected:
                fresh = uow.purchases.get(purchase_id)
                if fresh is None:
                    continue
                if purchase_id in person.purchase_ids and _is_persons(
                    fresh, person.emails, person.visitor_keys, gift=False
                ):
                    fresh.erase_buyer()
                    uow.purchases.store_buyer_details(fresh)
                    detached += 1
                else:
                    if purchase_id in person.purchase_ids:
                        # They were given it: the payer's sale keeps its payer, without the recipient.
                        fresh.recipient_email = None
                        uow.purchases.store_buyer_details(fresh)
                    reattributed += 1
                attribute_purchase(uow, fresh)
            # Accepted events not yet processed (or kept a while after) carry the same person.
            uow.inbound_events.delete_of_person(account_id, person.visitor_keys, person.emails)
            if person.delivery_ids:
                redacted = uow.webhook_deliveries.redact(
                    person.delivery_ids, person.emails | person.visitor_keys, REDACTED
                )
            uow.commit()
        report = ErasureReport(request_id, len(person.visitor_ids), detached, reattributed, redacted)
        log.info(
            "erasure %s: %d visitors erased, %d purchases detached, %d attributed again, %d deliveries redacted",
            request_id,
            report.visitors_erased,
            report.purchases_detached,
            report.purchases_reattributed,
            report.deliveries_redacted,
        )
        return report

    # --- the creator's own account ----------------------------------------------------------------

    def export_account(self, account_id: int) -> dict[str, Any]:
        with self._uow() as uow:
            account = uow.accounts.get(account_id)
        if account is None:
            raise PersonNotFound("There is no such account.")
        rows = self._reader.account_rows(account_id)
        return {
            "kind": "coursesignal.account_export",
            "exported_at": _iso(self._clock.now()),
            "account": {
                "email": account.email,
                "created_at": _iso(account.created_at),
                "email_verified_at": _iso(account.email_verified_at) if account.email_verified_at else None,
            },
            "tables": {name: list(table) for name, table in rows.items()},
            # Visitor-level rows can run into millions; a person's are exported by their email or visitor id.
            "tracking_row_counts": dict(self._reader.tracking_counts(account_id)),
        }

    def erase_account(self, account_id: int, password: str) -> str:
        """Delete the account and everything it owns, after ending its paid plan at Stripe.

        Raises the accounts service's WrongPassword, and BillingUnavailable when Stripe cannot be reached
        (then nothing is deleted). Returns the request id the log names the deletion by.
        """
        request_id = uuid.uuid4().hex
        cancelled: list[bool] = []

        def end_billing(account: Account) -> None:
            cancelled.append(self._subscriptions.cancel_before_deletion(account_id))

        self._accounts.delete_account(account_id, password, before_deleting=end_billing)
        log.info("account erasure %s: account deleted, paid plan cancelled: %s", request_id, any(cancelled))
        return request_id

    # --- retention --------------------------------------------------------------------------------

    def delete_expired_events(self, batch: int = RETENTION_BATCH) -> int:
        """Delete raw tracker events older than the retention age, in short transactions. The sessions
        and the report rollups built from them stay, so reports keep their numbers."""
        cutoff = self._clock.now() - self._event_retention
        total = 0
        while True:
            with self._uow() as uow:
                deleted = uow.events.delete_older_than(cutoff, batch)
                uow.commit()
            total += deleted
            if deleted < batch:
                break
        if total:
            log.info("retention: deleted %d tracker events older than %s", total, cutoff.date().isoformat())
        return total
