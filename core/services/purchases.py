"""Bringing purchases and refunds in from a platform, once each, and attributing them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import astuple, dataclass
from datetime import datetime

from core.domain.purchases import Purchase, PurchaseRecord, RefundRecord, refund_problem
from core.ports.platforms import InvalidRecord, PlatformCatalog, PlatformRecord, SyncProgress
from core.ports.uow import UnitOfWork
from core.services.attribution import attribute_purchase

# Records stored per transaction during a platform sync.
SYNC_BATCH_SIZE = 50


@dataclass(frozen=True, slots=True)
class IngestSummary:
    purchases_added: int = 0
    purchases_already_known: int = 0
    refunds_added: int = 0
    refunds_without_purchase: int = 0


def _ingest_purchase(uow: UnitOfWork, account_id: int, record: PurchaseRecord) -> bool:
    known = uow.purchases.get_by_platform_id(account_id, record.platform, record.platform_purchase_id)
    if known is not None:
        if known.complete_from(record):
            attribute_purchase(uow, known)  # stores what was added, with the match it now allows
        return False
    purchase = uow.purchases.add(Purchase.from_record(account_id, record))
    attribute_purchase(uow, purchase)
    return True


def _ingest_refund(uow: UnitOfWork, account_id: int, refund: RefundRecord) -> bool | None:
    """True when stored, False when already known, None when the purchase it refunds is unknown."""
    purchase = uow.purchases.get_by_platform_id(account_id, refund.platform, refund.platform_purchase_id)
    if purchase is None or purchase.id is None:
        return None
    if problem := refund_problem(refund, purchase):
        # Raised inside the caller's transaction: nothing of the delivery or page holding it is stored.
        raise InvalidRecord(f"A refund CourseSignal cannot store: {problem}.")
    return uow.purchases.add_refund(purchase.id, refund)


def store_records(uow: UnitOfWork, account_id: int, records: Iterable[PlatformRecord]) -> IngestSummary:
    """Store records inside the caller's transaction, purchases before the refunds that may name them;
    each is stored once by its platform id, so storing them again changes nothing.

    The account's ingestion lock is held to the end of the transaction: another worker storing the same
    purchase waits and then finds it, and the tracker pipeline storing the buyer's visits meanwhile either
    commits first (seen here) or runs after (and sees this purchase, so it attributes it again)."""
    uow.inbound_events.lock_account(account_id)
    added = known = refunds = orphans = 0
    for record in sorted(records, key=lambda record: not isinstance(record, PurchaseRecord)):
        if isinstance(record, PurchaseRecord):
            if _ingest_purchase(uow, account_id, record):
                added += 1
            else:
                known += 1
        else:
            stored = _ingest_refund(uow, account_id, record)
            refunds += stored is True
            orphans += stored is None
    return IngestSummary(added, known, refunds, orphans)


class Purchases:
    def __init__(self, uow: Callable[[], UnitOfWork], platforms: PlatformCatalog) -> None:
        self._uow = uow
        self._platforms = platforms

    def ingest(self, account_id: int, records: Iterable[PlatformRecord]) -> IngestSummary:
        """Store records in one transaction: all of them or, on any error, none."""
        with self._uow() as uow:
            summary = store_records(uow, account_id, records)
            uow.commit()
        return summary

    def ingest_in_batches(
        self, account_id: int, records: Iterable[PlatformRecord], batch_size: int = SYNC_BATCH_SIZE
    ) -> IngestSummary:
        """Store a platform sync in short transactions, purchases before the refunds that may name them.

        A long sync never holds the database for long (the tracker keeps writing meanwhile), and since each
        record is stored once by its platform id, a run cut short is completed by the next without duplicates.
        """
        ordered = sorted(records, key=lambda record: not isinstance(record, PurchaseRecord))
        totals = IngestSummary()
        for start in range(0, len(ordered), batch_size):
            part = self.ingest(account_id, ordered[start : start + batch_size])
            totals = IngestSummary(*(a + b for a, b in zip(astuple(totals), astuple(part), strict=True)))
        return totals

    def import_from_platform(
        self,
        account_id: int,
        platform: str,
        credentials: Mapping[str, str],
        since: datetime,
        progress: SyncProgress,
    ) -> IngestSummary:
        """Read everything the platform has since `since`, then store it; a failure stores nothing."""
        adapter = self._platforms.get(platform)
        records = list(adapter.fetch_purchases(dict(credentials), since, progress))
        return self.ingest(account_id, records)
