"""Two workers storing what touches the same account at once, on PostgreSQL (where they truly run at once):
a purchase stored while another transaction stores it too; a purchase attributed, a visitor's purchases or
all of the account's attributed again, or the person erased, while the visitor's events are being stored. The
account's ingestion lock makes each wait for the other, so the second sees what the first committed; without
it, the second fails on the unique key, works from a journey that misses the events committed meanwhile, or
erases a person whose visit is committed just after."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.domain.events import EventKind, TrackerEvent
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord
from core.services.purchases import store_records

pytestmark = pytest.mark.postgres

OVERLAP_SECONDS = 0.5


@pytest.fixture
def database_url(postgres_database: str) -> Iterator[str]:  # PostgreSQL only: SQLite runs one writer at a time anyway
    from tests.conftest import empty_postgres

    yield postgres_database
    empty_postgres(postgres_database)  # as the suite's own database_url leaves it for the next test


def _overlapping(first: Callable[[Any], object], second: Callable[[Any], object], uow: Callable[[], Any]) -> Any:
    """`first` runs in a transaction held open OVERLAP_SECONDS after it is done; `second`, in its own
    transaction, starts meanwhile. Returns what `second` returned (or raised)."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def hold() -> None:
        with uow() as work:
            first(work)
            done.set()
            time.sleep(OVERLAP_SECONDS)
            work.commit()

    holder = threading.Thread(target=hold)
    holder.start()
    assert done.wait(10)
    try:
        with uow() as work:
            outcome["value"] = second(work)
            work.commit()
    except Exception as error:  # what the test asserts did not happen
        outcome["value"] = error
    holder.join()
    return outcome["value"]


def test_a_purchase_stored_by_two_workers_at_once_is_stored_once_without_an_error(container: Any) -> None:
    accounts = container.services.accounts()
    account_id = accounts.ensure_account("creator@example.com").id
    record = PurchaseRecord("stripe", "pi_1", Money(9900, "USD"), datetime.now(UTC), email="a@example.com")

    second = _overlapping(
        lambda work: store_records(work, account_id, [record]),
        lambda work: store_records(work, account_id, [record]),
        container.gateways.unit_of_work,
    )

    assert not isinstance(second, Exception), second
    assert (second.purchases_added, second.purchases_already_known) == (0, 1)


def _visit_waiting(container: Any) -> tuple[Any, datetime]:
    """A creator's site and a visit from YouTube accepted for it, waiting for the pipeline (no job queued)."""
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    site = accounts.add_site("creator@example.com", ["school.example.com"])
    now = datetime.now(UTC)
    landing = TrackerEvent(
        site_key=site.public_key,
        kind=EventKind.PAGEVIEW,
        client_event_id="event0001",
        visitor_key="visitor0001",
        url="https://school.example.com/course?utm_source=youtube",
        received_at=now - timedelta(minutes=5),
    )
    assert container.gateways.inbox().store(site.id, landing)
    return site, now


def _pipeline(account_id: int, now: datetime, flagged: list[int]) -> Callable[[Any], None]:
    """The pipeline's batch as `Tracking` runs it: the account's lock, then the waiting events stored; the
    visitors whose purchases it would attribute again go to `flagged`."""

    def run(work: Any) -> None:
        from core.services.tracking import _ingest_batch

        work.inbound_events.lock_account(account_id)
        done = _ingest_batch(work, account_id, work.inbound_events.pending(account_id, 50))
        work.inbound_events.mark_processed(done.outcomes, now)
        flagged.extend(done.reattribute)

    return run


def test_a_purchase_attributed_while_the_buyers_events_are_stored_sees_them(container: Any) -> None:
    site, now = _visit_waiting(container)
    record = PurchaseRecord("stripe", "pi_1", Money(9900, "USD"), now, visitor_key="visitor0001")

    # The pipeline's batch holds the account while it stores the visit; the sale comes in meanwhile.
    _overlapping(
        _pipeline(site.account_id, now, []),
        lambda work: store_records(work, site.account_id, [record]),
        container.gateways.unit_of_work,
    )

    purchase = container.services.reports().recent_purchases(site.account_id)[0]
    assert purchase.first_touch is not None, "attributed without the visit committed meanwhile"
    assert purchase.first_touch.source == "YouTube"


def test_a_visitor_attributed_again_while_its_events_are_stored_waits_for_them(container: Any) -> None:
    site, now = _visit_waiting(container)
    record = PurchaseRecord("stripe", "pi_1", Money(9900, "USD"), now, visitor_key="visitor0001")
    container.services.purchases().ingest(site.account_id, [record])  # before the browser's visit: unmatched
    flagged: list[int] = []
    attribution = container.services.attribution()

    # Another worker attributes the visitor again (its job) while the pipeline's batch is still storing.
    again = _overlapping(
        _pipeline(site.account_id, now, flagged),
        lambda _: attribution.reattribute_visitor(site.account_id, flagged[0]),
        container.gateways.unit_of_work,
    )

    assert again == 1, "attributed again from before the visit was committed"
    purchase = container.services.reports().recent_purchases(site.account_id)[0]
    assert purchase.first_touch is not None
    assert purchase.first_touch.source == "YouTube"


def test_every_purchase_attributed_again_while_a_buyers_events_are_stored_waits_for_them(container: Any) -> None:
    site, now = _visit_waiting(container)
    record = PurchaseRecord("stripe", "pi_1", Money(9900, "USD"), now, visitor_key="visitor0001")
    container.services.purchases().ingest(site.account_id, [record])  # before the browser's visit: unmatched
    attribution = container.services.attribution()

    # A release's re-attribution of the whole account runs while the pipeline's batch is still storing.
    again = _overlapping(
        _pipeline(site.account_id, now, []),
        lambda _: attribution.reattribute_all(site.account_id, force=True),
        container.gateways.unit_of_work,
    )

    assert again == 1
    purchase = container.services.reports().recent_purchases(site.account_id)[0]
    assert purchase.first_touch is not None, "attributed again from before the visit was committed"
    assert purchase.first_touch.source == "YouTube"


def test_a_person_erased_while_their_visit_is_stored_is_erased_with_it(container: Any) -> None:
    site, now = _visit_waiting(container)
    privacy = container.services.privacy()

    # The erasure request arrives while the pipeline's batch is storing the person's first visit.
    _overlapping(
        _pipeline(site.account_id, now, []),
        lambda _: privacy.erase_person(site.account_id, visitor_key="visitor0001"),
        container.gateways.unit_of_work,
    )

    with container.gateways.unit_of_work() as work:
        assert work.visitors.with_key(site.account_id, "visitor0001") is None, "the visit outlived the erasure"
