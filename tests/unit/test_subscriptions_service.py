"""The subscriptions use cases against in-memory fakes: checkout, portal, events, notices, access."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from itertools import count

import pytest

from core.domain.money import Money
from core.domain.subscriptions import (
    BillingEvent,
    BillingStatus,
    CheckoutCompleted,
    InvoiceSnapshot,
    SubscriptionSnapshot,
)
from core.ports.billing import BillingUnavailable, ForgedBillingEvent
from core.services.accounts import Accounts
from core.services.billing_notices import NoticeKind
from core.services.stripe_events import EventOutcome
from core.services.subscriptions import BillingActionRefused, Subscriptions
from tests.unit.fakes import FakeBillingGateway, FakeUnitOfWork, FixedClock, RecordingBillingNotifier, Store

BILLING_PAGE = "https://app.coursesignal.test/billing"


class World:
    def __init__(self) -> None:
        self.store = Store()
        self.clock = FixedClock()
        self.gateway = FakeBillingGateway()
        self.notifier = RecordingBillingNotifier()
        uow = lambda: FakeUnitOfWork(self.store)  # noqa: E731
        self.subscriptions = Subscriptions(uow, self.gateway, self.notifier, self.clock, BILLING_PAGE)
        self.account = Accounts(uow, self.clock).ensure_account("creator@example.com")
        assert self.account.id is not None
        self.account_id = self.account.id
        self._ids = count(1)

    def verify_email(self, trial_days: float = 14) -> None:
        # What the accounts work does at verification; billing only reads it.
        self.store.trial_ends_at[self.account_id] = self.clock.now() + timedelta(days=trial_days)

    def event(self, event_type: str, *, created: datetime | None = None, **payload: object) -> BillingEvent:
        return BillingEvent(
            event_id=f"evt_{next(self._ids)}",
            type=event_type,
            created=created or self.clock.now(),
            **payload,  # type: ignore[arg-type]
        )

    def subscription(self, status: str, customer: str = "cus_1", **extra: object) -> SubscriptionSnapshot:
        return SubscriptionSnapshot(subscription_id="sub_1", customer_id=customer, status=status, **extra)  # type: ignore[arg-type]

    def failed(self, attempt: int, next_attempt: datetime | None) -> BillingEvent:
        return self.event(
            "invoice.payment_failed",
            invoice=InvoiceSnapshot(
                invoice_id="in_1",
                customer_id="cus_1",
                subscription_id="sub_1",
                attempt_count=attempt,
                next_payment_attempt=next_attempt,
                amount_due=Money(9900, "USD"),
            ),
        )

    def subscribe(self) -> None:
        """Checkout, then Stripe's events: the account is active on subscription sub_1 of customer cus_1."""
        self.subscriptions.start_checkout(self.account_id, "https://x.test/ok", "https://x.test/no")
        self.gateway.subscriptions["sub_1"] = self.subscription("active")
        checkout = CheckoutCompleted("cs_1", "cus_1", "sub_1", self.account_id)
        assert self.apply(self.event("checkout.session.completed", checkout=checkout)) is EventOutcome.APPLIED

    def apply(self, event: BillingEvent) -> EventOutcome:
        return self.subscriptions.apply_event(event)

    def status(self) -> BillingStatus:
        return self.subscriptions.overview(self.account_id).status


@pytest.fixture
def world() -> World:
    return World()


def test_a_verified_account_is_trialing_with_days_left_then_expires_and_loses_reports(world: World) -> None:
    assert world.status() is BillingStatus.TRIAL_NOT_STARTED
    assert world.subscriptions.can_view_reports(world.account_id)
    world.verify_email()
    overview = world.subscriptions.overview(world.account_id)
    assert (overview.status, overview.trial_days_left, overview.can_view_reports) == (BillingStatus.TRIALING, 14, True)
    assert overview.can_subscribe
    assert not overview.can_manage
    world.clock.advance(days=14)
    overview = world.subscriptions.overview(world.account_id)
    assert (overview.status, overview.trial_days_left, overview.can_view_reports) == (
        BillingStatus.TRIAL_EXPIRED,
        None,
        False,
    )


def test_checkout_makes_the_customer_once_and_defers_the_first_charge_to_the_trials_end(world: World) -> None:
    world.verify_email(trial_days=10)
    url = world.subscriptions.start_checkout(world.account_id, "https://x.test/ok", "https://x.test/no")
    again = world.subscriptions.start_checkout(world.account_id, "https://x.test/ok", "https://x.test/no")
    assert url.startswith("https://checkout.stripe.test/")
    assert again == url  # a second tab gets the Checkout Session still open, not a second one
    assert world.gateway.customers == {"cus_1": (world.account_id, "creator@example.com")}
    (first,) = world.gateway.checkouts
    assert first.customer_id == "cus_1"
    assert first.trial_end == world.clock.now() + timedelta(days=10)
    assert (first.success_url, first.cancel_url, first.email) == (
        "https://x.test/ok",
        "https://x.test/no",
        "creator@example.com",
    )
    assert world.subscriptions.overview(world.account_id).can_manage


def test_an_expired_trial_is_charged_at_once(world: World) -> None:
    world.verify_email(trial_days=1)
    world.clock.advance(days=2)
    world.subscriptions.start_checkout(world.account_id, "https://x.test/ok", "https://x.test/no")
    assert world.gateway.checkouts[0].trial_end is None


def test_a_subscriber_is_not_sent_to_checkout_again(world: World) -> None:
    world.subscribe()
    with pytest.raises(BillingActionRefused, match="already subscribed"):
        world.subscriptions.start_checkout(world.account_id, "https://x.test/ok", "https://x.test/no")


def test_the_portal_needs_a_customer_first(world: World) -> None:
    with pytest.raises(BillingActionRefused, match="subscribe first"):
        world.subscriptions.open_portal(world.account_id, BILLING_PAGE)
    world.subscribe()
    assert world.subscriptions.open_portal(world.account_id, BILLING_PAGE) == "https://billing.stripe.test/p/cus_1"
    assert world.gateway.portals == [("cus_1", BILLING_PAGE)]


def test_stripe_being_down_is_said_plainly(world: World) -> None:
    world.gateway.unavailable = True
    with pytest.raises(BillingUnavailable, match="try again"):
        world.subscriptions.start_checkout(world.account_id, "https://x.test/ok", "https://x.test/no")


def test_checkout_completed_fetches_the_subscription_and_activates(world: World) -> None:
    world.verify_email()
    world.subscribe()
    overview = world.subscriptions.overview(world.account_id)
    assert (overview.status, overview.can_view_reports, overview.can_subscribe) == (BillingStatus.ACTIVE, True, False)


def test_checkout_completed_still_links_the_customer_when_stripe_cannot_be_asked(world: World) -> None:
    world.gateway.unavailable = True
    checkout = CheckoutCompleted("cs_1", "cus_9", "sub_1", world.account_id)
    assert world.apply(world.event("checkout.session.completed", checkout=checkout)) is EventOutcome.APPLIED
    world.gateway.unavailable = False
    created = world.event("customer.subscription.created", subscription=world.subscription("active", "cus_9"))
    assert world.apply(created) is EventOutcome.APPLIED
    assert world.status() is BillingStatus.ACTIVE


def test_a_checkout_for_an_unknown_customer_is_logged_and_changes_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    checkout = CheckoutCompleted("cs_1", "cus_stranger", "sub_9", None)
    assert world.apply(world.event("checkout.session.completed", checkout=checkout)) is EventOutcome.UNKNOWN_CUSTOMER
    assert "belongs to no account" in caplog.text
    assert world.store.subscriptions == {}


def test_subscription_events_find_the_account_by_metadata_when_the_customer_is_new(world: World) -> None:
    snapshot = world.subscription("active", "cus_new", account_id=world.account_id)
    assert world.apply(world.event("customer.subscription.created", subscription=snapshot)) is EventOutcome.APPLIED
    assert world.status() is BillingStatus.ACTIVE
    stranger = world.subscription("active", "cus_other", account_id=999)
    assert world.apply(world.event("customer.subscription.created", subscription=stranger)) is (
        EventOutcome.UNKNOWN_CUSTOMER
    )


def test_each_failed_payment_notifies_the_creator_once_with_a_link_to_fix_the_card(world: World) -> None:
    world.subscribe()
    now = world.clock.now()
    first = world.failed(1, now + timedelta(days=3))
    assert world.apply(first) is EventOutcome.APPLIED
    assert world.apply(first) is EventOutcome.DUPLICATE
    overview = world.subscriptions.overview(world.account_id)
    assert (overview.status, overview.failed_payment_attempts, overview.next_payment_attempt) == (
        BillingStatus.PAST_DUE,
        1,
        now + timedelta(days=3),
    )
    assert overview.can_view_reports
    world.apply(world.failed(2, now + timedelta(days=8)))
    world.apply(world.failed(3, now + timedelta(days=15)))
    world.apply(world.failed(4, None))
    world.apply(world.event("customer.subscription.deleted", subscription=world.subscription("canceled")))
    assert world.status() is BillingStatus.CANCELED
    assert not world.subscriptions.can_view_reports(world.account_id)
    assert [(n.attempt, n.next_attempt is None) for n in world.notifier.notices] == [
        (1, False),
        (2, False),
        (3, False),
        (4, True),
    ]
    assert {(n.email, n.billing_url, n.amount_due) for n in world.notifier.notices} == {
        ("creator@example.com", BILLING_PAGE, Money(9900, "USD"))
    }


def test_a_notice_that_cannot_be_sent_leaves_the_event_for_stripe_to_deliver_again(world: World) -> None:
    world.subscribe()
    failure = world.failed(1, world.clock.now() + timedelta(days=3))
    world.notifier.fail = True
    with pytest.raises(ConnectionError):
        world.apply(failure)
    assert world.status() is BillingStatus.ACTIVE
    world.notifier.fail = False
    assert world.apply(failure) is EventOutcome.APPLIED
    assert len(world.notifier.notices) == 1


def test_stale_and_unused_events_are_acknowledged_without_change(world: World) -> None:
    world.subscribe()
    earlier = world.clock.now() - timedelta(minutes=1)
    stale = world.event("customer.subscription.updated", created=earlier, subscription=world.subscription("incomplete"))
    assert world.apply(stale) is EventOutcome.UNCHANGED
    assert world.apply(world.event("customer.created")) is EventOutcome.IGNORED
    assert world.status() is BillingStatus.ACTIVE


def test_webhooks_are_verified_before_anything_is_read(world: World) -> None:
    world.subscribe()
    event = world.event("customer.subscription.deleted", subscription=world.subscription("canceled"))
    payload, signature = world.gateway.sign(event)
    with pytest.raises(ForgedBillingEvent):
        world.subscriptions.receive_webhook(payload, "signed:evt_forged")
    assert world.status() is BillingStatus.ACTIVE
    assert world.subscriptions.receive_webhook(payload, signature) is EventOutcome.APPLIED
    assert world.status() is BillingStatus.CANCELED


def test_subscribed_during_the_trial_shows_the_first_charge_date_then_the_cancel_then_the_trial_left(
    world: World,
) -> None:
    world.verify_email()
    trial_end = world.clock.now() + timedelta(days=14)
    # Stripe: a subscription in its trial has its first period end when the trial does.
    snapshot = world.subscription(
        "trialing", "cus_1", trial_end=trial_end, current_period_end=trial_end, account_id=world.account_id
    )
    world.apply(world.event("customer.subscription.created", subscription=snapshot))
    overview = world.subscriptions.overview(world.account_id)
    assert (overview.status, overview.first_charge_at, overview.can_subscribe) == (
        BillingStatus.ACTIVE,
        trial_end,
        False,
    )

    world.clock.advance(days=1)  # canceled in the Customer Portal: nothing will be charged
    canceled = replace(snapshot, cancel_at_period_end=True)
    world.apply(world.event("customer.subscription.updated", subscription=canceled))
    overview = world.subscriptions.overview(world.account_id)
    assert (overview.status, overview.ends_at, overview.first_charge_at) == (BillingStatus.ENDING, trial_end, None)
    assert overview.can_view_reports

    world.clock.advance(days=1)  # ended early (the card was removed): the free trial still runs to its end
    world.apply(world.event("customer.subscription.deleted", subscription=replace(snapshot, status="canceled")))
    overview = world.subscriptions.overview(world.account_id)
    assert (overview.status, overview.trial_days_left, overview.can_view_reports) == (BillingStatus.TRIALING, 12, True)
    world.clock.advance(days=12)
    assert world.status() is BillingStatus.CANCELED


def _live(world: World, subscription_id: str, seconds: int, status: str = "active") -> SubscriptionSnapshot:
    snapshot = SubscriptionSnapshot(
        subscription_id=subscription_id,
        customer_id="cus_1",
        status=status,
        created=world.clock.now() + timedelta(seconds=seconds),
        account_id=world.account_id,
    )
    world.gateway.subscriptions[subscription_id] = snapshot
    return snapshot


def test_checkout_while_a_paid_subscription_has_not_reached_us_takes_it_instead(world: World) -> None:
    world.verify_email()
    world.subscriptions.start_checkout(world.account_id, "https://x.test/ok", "https://x.test/no")
    _live(world, "sub_1", 0, status="trialing")  # paid in the other tab; its webhook is on its way
    with pytest.raises(BillingActionRefused, match="already subscribed"):
        world.subscriptions.start_checkout(world.account_id, "https://x.test/ok", "https://x.test/no")
    assert len(world.gateway.checkouts) == 1
    assert world.status() is BillingStatus.ACTIVE


@pytest.mark.parametrize("order", ["oldest first", "newest first"])
def test_a_second_live_subscription_is_canceled_refunded_and_reported_whatever_arrives_first(
    world: World, order: str
) -> None:
    world.subscriptions.start_checkout(world.account_id, "https://x.test/ok", "https://x.test/no")
    first, second = _live(world, "sub_1", 0), _live(world, "sub_2", 5)
    world.gateway.paid["sub_2"] = Money(9900, "USD")
    events = [world.event("customer.subscription.created", subscription=s) for s in (first, second)]
    if order == "newest first":
        events.reverse()
    outcomes = {event.subscription.subscription_id: world.apply(event) for event in events}  # type: ignore[union-attr]
    assert outcomes["sub_2"] is EventOutcome.SECOND_SUBSCRIPTION
    # The kept plan's own news: applied, or already taken when the duplicate's event came first.
    assert outcomes["sub_1"] is (EventOutcome.APPLIED if order == "oldest first" else EventOutcome.UNCHANGED)
    assert world.gateway.cancelled == ["sub_2"]
    assert world.gateway.refunded == [("sub_2", Money(9900, "USD"))]
    (report,) = world.notifier.reports
    assert (report.kept_subscription_id, report.canceled_subscription_id, report.refunded) == (
        "sub_1",
        "sub_2",
        Money(9900, "USD"),
    )
    assert world.store.subscriptions[world.account_id].stripe_subscription_id == "sub_1"
    assert world.status() is BillingStatus.ACTIVE
    # Stripe then announces the duplicate's end: the kept plan stays.
    ended = world.event("customer.subscription.deleted", subscription=replace(second, status="canceled"))
    assert world.apply(ended) is EventOutcome.UNCHANGED
    assert world.status() is BillingStatus.ACTIVE


def test_deleting_the_account_cancels_every_subscription_of_the_customer(world: World) -> None:
    world.subscribe()
    _live(world, "sub_2", 5)  # Stripe holds a second one this account never heard of
    world.gateway.open_checkouts["cus_1"] = "https://checkout.stripe.test/c/open"
    assert world.subscriptions.cancel_before_deletion(world.account_id)
    assert sorted(world.gateway.cancelled) == ["sub_1", "sub_2"]
    assert world.gateway.open_checkouts == {}


def _kinds(world: World) -> list[str]:
    return [n.kind.value for n in world.notifier.notices]


def test_the_free_trial_is_reminded_three_days_before_and_told_when_it_ended_once_each(world: World) -> None:
    world.verify_email()
    assert world.subscriptions.send_trial_notices() == 0
    world.clock.advance(days=11, hours=1)  # 2 days 23 hours left
    assert world.subscriptions.send_trial_notices() == 1
    assert world.subscriptions.send_trial_notices() == 0  # the job runs every 15 minutes: once is enough
    (reminder,) = world.notifier.notices
    assert (reminder.kind, reminder.state.status, reminder.trial_ends_at) == (
        NoticeKind.TRIAL_ENDING,
        BillingStatus.TRIALING,
        world.store.trial_ends_at[world.account_id],
    )
    world.clock.advance(days=3)
    assert world.subscriptions.send_trial_notices() == 1
    assert world.subscriptions.send_trial_notices() == 0
    assert _kinds(world) == ["trial_ending", "trial_ended"]
    assert world.notifier.notices[-1].state.status is BillingStatus.TRIAL_EXPIRED
    world.clock.advance(days=30)
    assert world.subscriptions.send_trial_notices() == 0


def test_a_plan_taken_during_the_trial_hears_from_trial_will_end_in_its_own_words(world: World) -> None:
    world.verify_email()
    trial_end = world.store.trial_ends_at[world.account_id]
    plan = world.subscription(
        "trialing", trial_end=trial_end, current_period_end=trial_end, account_id=world.account_id
    )
    world.apply(world.event("customer.subscription.created", subscription=plan))
    world.clock.advance(days=11, hours=1)
    assert world.subscriptions.send_trial_notices() == 0  # subscribed: the job does not say "subscribe"
    world.apply(world.event("customer.subscription.trial_will_end", subscription=plan))
    world.apply(world.event("customer.subscription.trial_will_end", subscription=plan))  # sent again: told once
    (notice,) = world.notifier.notices
    assert (notice.kind, notice.state.status, notice.state.first_charge_at) == (
        NoticeKind.TRIAL_ENDING,
        BillingStatus.ACTIVE,
        trial_end,
    )


def test_recovery_and_authentication_are_told_and_a_failure_older_than_its_recovery_is_not(world: World) -> None:
    world.subscribe()
    now = world.clock.now()
    failed = world.failed(1, now + timedelta(days=3))
    world.clock.advance(days=3)
    paid = world.event("invoice.paid", invoice=InvoiceSnapshot("in_1", "cus_1", "sub_1", 2, None, Money(9900, "USD")))
    world.apply(paid)  # Stripe's retry succeeded, and its event came before the failure's
    assert world.apply(failed) is EventOutcome.UNCHANGED
    assert _kinds(world) == []  # the failure came after its recovery: no warning that the plan may end
    assert world.status() is BillingStatus.ACTIVE

    world.clock.advance(days=30)
    world.apply(world.failed(1, world.clock.now() + timedelta(days=3)))
    action = world.event(
        "invoice.payment_action_required",
        invoice=InvoiceSnapshot(
            "in_1", "cus_1", "sub_1", 2, None, Money(9900, "USD"), hosted_invoice_url="https://invoice.stripe.test/i/1"
        ),
    )
    assert world.apply(action) is EventOutcome.APPLIED
    world.clock.advance(minutes=5)
    world.apply(
        world.event("invoice.paid", invoice=InvoiceSnapshot("in_1", "cus_1", "sub_1", 3, None, Money(9900, "USD")))
    )
    assert _kinds(world) == ["payment_failed", "payment_action_required", "payment_recovered"]
    assert world.notifier.notices[1].action_url == "https://invoice.stripe.test/i/1"
    assert world.notifier.notices[2].state.status is BillingStatus.ACTIVE


def test_the_end_of_a_canceled_plan_is_told_once_with_the_trial_still_left(world: World) -> None:
    world.verify_email()
    trial_end = world.store.trial_ends_at[world.account_id]
    plan = world.subscription(
        "trialing", trial_end=trial_end, current_period_end=trial_end, account_id=world.account_id
    )
    world.apply(world.event("customer.subscription.created", subscription=plan))
    world.clock.advance(days=2)
    world.apply(world.event("customer.subscription.updated", subscription=replace(plan, cancel_at_period_end=True)))
    world.clock.advance(days=1)
    ended = replace(plan, status="canceled", ended_by="cancellation_requested")
    world.apply(world.event("customer.subscription.deleted", subscription=ended))
    world.apply(world.event("customer.subscription.deleted", subscription=ended))
    (notice,) = world.notifier.notices
    assert (notice.kind, notice.state.status, notice.state.trial_days_left) == (
        NoticeKind.SUBSCRIPTION_ENDED,
        BillingStatus.TRIALING,
        11,
    )
