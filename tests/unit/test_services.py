"""The use cases, run against in-memory fakes of the ports."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core.domain.attribution import Model
from core.domain.events import DropReason, EventKind, TrackerEvent
from core.domain.money import Money
from core.domain.purchases import AttributionStatus, MatchMethod, PurchaseRecord, RefundRecord
from core.domain.reports import ReportRange, SourceTotals, UnmatchedTotals
from core.services.accounts import Accounts
from core.services.attribution import Attribution
from core.services.purchases import Purchases
from core.services.reports import Reports
from core.services.tracking import Tracking
from tests.unit.fakes import FakeInbox, FakeRateLimiter, FakeUnitOfWork, FixedClock, RecordingJobQueue, Store

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


class World:
    def __init__(self) -> None:
        self.store = Store()
        self.clock = FixedClock()
        self.jobs = RecordingJobQueue()
        uow = lambda: FakeUnitOfWork(self.store)  # noqa: E731
        self.accounts = Accounts(uow, self.clock)
        self.limiter = FakeRateLimiter()
        self.tracking = Tracking(uow, self.jobs, self.limiter, self.clock, FakeInbox(self.store))
        self.attribution = Attribution(uow)
        self.purchases = Purchases(uow, platforms=None)  # type: ignore[arg-type]
        self.account = self.accounts.ensure_account("creator@example.com")
        self.site = self.accounts.add_site("creator@example.com", ["example.com"])
        self._ids = 0

    def event(self, kind: EventKind, visitor: str, url: str = "https://example.com/", **extra: object) -> TrackerEvent:
        self._ids += 1
        fields = {"referrer": None, "email": None, "user_agent": BROWSER, **extra}
        return TrackerEvent(
            site_key=self.site.public_key,
            client_event_id=f"event{self._ids:04d}",
            kind=kind,
            visitor_key=visitor,
            url=url,
            received_at=self.clock.now(),
            **fields,
        )  # type: ignore[arg-type]

    def purchase(self, pid: str, email: str | None, cents: int, **extra: object) -> PurchaseRecord:
        return PurchaseRecord(
            platform="csv",
            platform_purchase_id=pid,
            amount=Money(cents, "USD"),
            purchased_at=self.clock.now(),
            email=email,
            **extra,
        )  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    return World()


def test_a_pageview_creates_visitor_session_and_first_touch(world: World) -> None:
    outcome = world.tracking.record(world.event(EventKind.PAGEVIEW, "visitor01", "https://example.com/?utm_source=yt"))
    assert outcome.stored
    (visitor,) = world.store.visitors.values()
    assert visitor.first_touch is not None
    assert visitor.first_touch.source == "YouTube"
    assert len(world.store.sessions) == 1


def test_the_pipeline_drops_with_a_reason_and_stores_nothing(world: World) -> None:
    bot = world.event(EventKind.PAGEVIEW, "visitor01", user_agent="Googlebot/2.1")
    assert world.tracking.record(bot).dropped is DropReason.BOT
    unknown = TrackerEvent(
        site_key="nope",
        client_event_id="event9999",
        kind=EventKind.PAGEVIEW,
        visitor_key="visitor01",
        url="https://example.com/",
        received_at=world.clock.now(),
        user_agent=BROWSER,
    )
    assert world.tracking.record(unknown).dropped is DropReason.UNKNOWN_SITE
    assert not world.store.visitors
    assert not world.store.events


def test_a_retried_event_is_stored_once(world: World) -> None:
    event = world.event(EventKind.PAGEVIEW, "visitor01")
    assert world.tracking.record(event).stored
    world.clock.advance(minutes=40)
    assert world.tracking.record(event).dropped is DropReason.DUPLICATE
    assert len(world.store.events) == 1
    assert len(world.store.sessions) == 1


def test_identify_sets_the_email_and_queues_attribution_once(world: World) -> None:
    world.tracking.record(world.event(EventKind.IDENTIFY, "visitor01", email="buyer@example.com"))
    world.clock.advance(minutes=3)
    world.tracking.record(world.event(EventKind.IDENTIFY, "visitor01", email="buyer@example.com"))
    (visitor,) = world.store.visitors.values()
    assert visitor.email == "buyer@example.com"
    assert world.jobs.jobs == [("reattribute_visitor", (world.account.id, visitor.id))]


def test_a_purchase_is_matched_by_email_and_credited_to_first_and_last_touch(world: World) -> None:
    world.tracking.record(world.event(EventKind.PAGEVIEW, "visitor01", "https://example.com/?utm_source=youtube"))
    world.clock.advance(days=3)
    world.tracking.record(world.event(EventKind.PAGEVIEW, "visitor01", "https://example.com/?utm_source=ig"))
    world.tracking.record(world.event(EventKind.IDENTIFY, "visitor01", email="buyer@example.com"))
    world.clock.advance(hours=1)
    summary = world.purchases.ingest(world.account.id or 0, [world.purchase("p1", "buyer@example.com", 19900)])
    assert summary.purchases_added == 1
    (purchase,) = world.store.purchases.values()
    assert (purchase.status, purchase.match_method) == (AttributionStatus.MATCHED, MatchMethod.EMAIL)
    credits = {c.model: c.touch.source for c in world.store.credits[purchase.id or 0]}
    assert credits == {Model.FIRST_TOUCH: "YouTube", Model.LAST_TOUCH: "Instagram"}


def test_a_carried_visitor_id_wins_over_email(world: World) -> None:
    world.tracking.record(world.event(EventKind.PAGEVIEW, "visitor01", "https://example.com/?utm_source=youtube"))
    world.clock.advance(days=1)
    world.tracking.record(world.event(EventKind.PAGEVIEW, "visitor02", "https://example.com/?utm_source=ig"))
    world.tracking.record(world.event(EventKind.IDENTIFY, "visitor02", email="buyer@example.com"))
    world.clock.advance(minutes=5)
    world.purchases.ingest(
        world.account.id or 0, [world.purchase("p1", "buyer@example.com", 100, visitor_key="visitor01")]
    )
    (purchase,) = world.store.purchases.values()
    assert purchase.match_method is MatchMethod.VISITOR_ID
    assert world.store.credits[purchase.id or 0][0].touch.source == "YouTube"


def test_touches_after_the_purchase_never_count(world: World) -> None:
    world.tracking.record(world.event(EventKind.IDENTIFY, "visitor01", email="buyer@example.com"))
    world.purchases.ingest(world.account.id or 0, [world.purchase("p1", "buyer@example.com", 100)])
    world.clock.advance(minutes=5)
    world.tracking.record(world.event(EventKind.PAGEVIEW, "visitor01", "https://example.com/?utm_source=youtube"))
    (visitor_id,) = world.store.visitors
    world.attribution.reattribute_visitor(world.account.id or 0, visitor_id)
    (purchase,) = world.store.purchases.values()
    assert purchase.status is AttributionStatus.UNMATCHED


def test_a_purchase_before_the_identify_is_matched_by_the_job(world: World) -> None:
    world.tracking.record(world.event(EventKind.PAGEVIEW, "visitor01", "https://example.com/?utm_source=youtube"))
    world.clock.advance(minutes=5)
    world.purchases.ingest(world.account.id or 0, [world.purchase("p1", "buyer@example.com", 100)])
    assert next(iter(world.store.purchases.values())).status is AttributionStatus.UNMATCHED
    world.tracking.record(world.event(EventKind.IDENTIFY, "visitor01", email="buyer@example.com"))
    task, args = world.jobs.jobs[-1]
    assert getattr(world.attribution, task)(*args) == 1
    assert next(iter(world.store.purchases.values())).status is AttributionStatus.MATCHED


def test_purchases_and_refunds_are_stored_once(world: World) -> None:
    account_id = world.account.id or 0
    record = world.purchase("p1", "buyer@example.com", 5000)
    refund = RefundRecord(
        platform="csv",
        platform_purchase_id="p1",
        platform_refund_id="r1",
        amount=Money(2000, "USD"),
        refunded_at=world.clock.now(),
    )
    first = world.purchases.ingest(account_id, [record, refund])
    again = world.purchases.ingest(account_id, [record, refund])
    assert (first.purchases_added, first.refunds_added) == (1, 1)
    assert (again.purchases_added, again.purchases_already_known, again.refunds_added) == (0, 1, 0)
    assert len(world.store.refunds) == 1


def test_a_running_refund_total_that_grows_raises_the_stored_refund(world: World) -> None:
    account_id = world.account.id or 0
    world.purchases.ingest(account_id, [world.purchase("p1", "buyer@example.com", 5000)])

    def refunded(cents: int) -> RefundRecord:
        return RefundRecord("csv", "p1", "p1:refunded", Money(cents, "USD"), world.clock.now())

    assert world.purchases.ingest(account_id, [refunded(2000)]).refunds_added == 1
    assert world.purchases.ingest(account_id, [refunded(3500)]).refunds_added == 1  # a second partial refund
    assert world.purchases.ingest(account_id, [refunded(2000)]).refunds_added == 0  # an old event, late
    assert world.purchases.ingest(account_id, [refunded(3500)]).refunds_added == 0
    ((_, stored),) = world.store.refunds.items()
    assert stored.amount == Money(3500, "USD")


def test_a_later_record_of_the_same_sale_brings_the_visitor_and_the_match(world: World) -> None:
    """Stripe tells of one sale in the payment (no visitor) and in the Checkout Session (with it), in any order."""
    account_id = world.account.id or 0
    world.tracking.record(world.event(EventKind.PAGEVIEW, "visitor01", "https://example.com/?utm_source=yt"))
    world.clock.advance(minutes=5)
    payment = world.purchase("pi_1", None, 5000)
    assert world.purchases.ingest(account_id, [payment]).purchases_added == 1
    (purchase,) = world.store.purchases.values()
    assert purchase.status is AttributionStatus.UNMATCHED

    session = replace(payment, visitor_key="visitor01", email="buyer@example.com", amount=Money(1, "USD"))
    summary = world.purchases.ingest(account_id, [session])
    assert (summary.purchases_added, summary.purchases_already_known) == (0, 1)
    (purchase,) = world.store.purchases.values()
    assert (purchase.status, purchase.match_method) == (AttributionStatus.MATCHED, MatchMethod.VISITOR_ID)
    assert (purchase.visitor_key, purchase.email) == ("visitor01", "buyer@example.com")
    assert purchase.amount == Money(5000, "USD")  # what the first record said stays: nothing is overwritten
    world.purchases.ingest(account_id, [replace(payment, email="other@example.com")])
    assert next(iter(world.store.purchases.values())).email == "buyer@example.com"


def test_api_tokens_resolve_to_their_account_only(world: World) -> None:
    token = world.accounts.issue_api_token("creator@example.com")
    assert world.accounts.account_for_token(token) == world.account.id
    assert world.accounts.account_for_token(token + "x") is None
    assert world.accounts.account_for_token("something-else") is None


class StubQueries:
    def reading(self) -> AbstractContextManager[None]:
        return nullcontext()

    def currencies(self, account_id: int) -> list[str]:
        return ["EUR", "USD"]

    def source_totals(self, account_id: int, **_: object) -> list[SourceTotals]:
        return [
            SourceTotals("Instagram", "Organic Social", 40, 40000, 1, 1),
            SourceTotals("YouTube", "Organic Video", 200, 800000, 3, 4),
        ]

    def unmatched_totals(self, account_id: int, **_: object) -> UnmatchedTotals:
        return UnmatchedTotals(revenue=9900, purchases=1)


def test_the_report_derives_ratios_and_orders_by_revenue() -> None:
    report = Reports(StubQueries(), FixedClock()).sources(1, ReportRange.ALL_TIME, Model.FIRST_TOUCH)
    assert report.currency == "EUR"
    youtube, instagram = report.lines
    assert youtube.totals.source == "YouTube"
    assert (youtube.conversion_rate, youtube.avg_order_value, youtube.revenue_per_visitor) == (0.015, 200000, 4000)
    assert (instagram.conversion_rate, instagram.avg_order_value, instagram.revenue_per_visitor) == (0.025, 40000, 1000)
    # "Last 7 days" is today and the six whole days before it, in UTC.
    assert ReportRange.LAST_7_DAYS.since(datetime(2026, 1, 8, 15, 30, tzinfo=UTC)) == datetime(2026, 1, 2, tzinfo=UTC)
    assert ReportRange.LAST_7_DAYS.previous(datetime(2026, 1, 8, 15, 30, tzinfo=UTC)) == (
        datetime(2025, 12, 26, tzinfo=UTC),
        datetime(2026, 1, 2, tzinfo=UTC),
    )
    assert ReportRange.ALL_TIME.since(datetime(2026, 1, 8, tzinfo=UTC)) is None


def test_a_flooding_sender_or_site_is_dropped_as_rate_limited(world: World) -> None:
    flood = replace(world.event(EventKind.PAGEVIEW, "visitor01"), client_address="198.51.100.7")
    world.limiter.blocked = {"client:198.51.100.7"}
    assert world.tracking.record(flood).dropped is DropReason.RATE_LIMITED
    world.limiter.blocked = {f"site:{world.site.public_key}"}
    assert world.tracking.record(world.event(EventKind.PAGEVIEW, "visitor02")).dropped is DropReason.RATE_LIMITED
    assert not world.store.events
