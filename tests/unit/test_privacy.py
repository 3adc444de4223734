"""The privacy service on fakes: finding a person, export, erasure, account deletion, retention."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from core.domain.connections import Connection, ConnectionStatus, StoredDelivery
from core.domain.events import EventKind
from core.domain.purchases import AttributionStatus
from core.domain.subscriptions import Subscription
from core.ports.billing import BillingUnavailable
from core.services.accounts import Accounts, WrongPassword
from core.services.privacy import REDACTED, PersonNotFound, Privacy, PrivacyRequestInvalid
from core.services.subscriptions import Subscriptions
from tests.unit.attribution_world import AttributionWorld
from tests.unit.fakes import (
    FakeBillingGateway,
    FakeLinks,
    FakePasswordHasher,
    FakePersonalDataReader,
    FakeSignedTokens,
    FakeUnitOfWork,
    RecordingBillingNotifier,
    RecordingMailer,
)

PASSWORD = "a long enough password 42"
ANA = "ana@example.com"
BEN = "ben@example.com"


class PrivacyWorld(AttributionWorld):
    def __init__(self) -> None:
        super().__init__()
        uow = lambda: FakeUnitOfWork(self.store)  # noqa: E731
        self.gateway = FakeBillingGateway()
        self.mailer = RecordingMailer()
        self.full_accounts = Accounts(
            uow,
            self.clock,
            hasher=FakePasswordHasher(),
            mailer=self.mailer,
            tokens=FakeSignedTokens(self.clock),
            links=FakeLinks(),
        )
        self.subscriptions = Subscriptions(uow, self.gateway, RecordingBillingNotifier(), self.clock, "https://app/b")
        self.privacy = Privacy(
            uow,
            FakePersonalDataReader(self.store),
            self.full_accounts,
            self.subscriptions,
            self.clock,
            event_retention=timedelta(days=30),
        )

    def ana_buys_after_two_domains(self) -> None:
        """Ana lands from YouTube on example.com, crosses to school.example (a hand-off), signs up and buys."""
        self.visit("ana-main-1", "youtube")
        self.clock.advance(minutes=1)
        self.send(EventKind.PAGEVIEW, "ana-school-1", "https://school.example/?_csv=ana-main-1." + "0")
        with self.uow() as uow:
            main = uow.visitors.with_key(self.account_id, "ana-main-1")
            school = uow.visitors.with_key(self.account_id, "ana-school-1")
            assert main is not None
            assert school is not None
            assert main.id
            assert school.id
            from core.domain.identities import Handoff

            uow.identities.add_handoff(self.account_id, Handoff(main.id, school.id, self.clock.now()))
            uow.commit()
        self.identify("ana-school-1", ANA)
        self.clock.advance(minutes=5)
        self.buy("k-ana", email=ANA, cents=19900)


@pytest.fixture
def world() -> PrivacyWorld:
    return PrivacyWorld()


def test_a_request_names_one_person_by_email_or_visitor_id(world: PrivacyWorld) -> None:
    with pytest.raises(PrivacyRequestInvalid, match=r"^Give the person's email address or their visitor id"):
        world.privacy.export_person(world.account_id)
    with pytest.raises(PrivacyRequestInvalid, match=r"^Give the person's email address or their visitor id"):
        world.privacy.export_person(world.account_id, email="", visitor_key="")
    with pytest.raises(PrivacyRequestInvalid, match="not both"):
        world.privacy.export_person(world.account_id, email=ANA, visitor_key="ana-main-1")
    with pytest.raises(PrivacyRequestInvalid, match="not an email"):
        world.privacy.export_person(world.account_id, email="not-an-email")
    with pytest.raises(PersonNotFound):
        world.privacy.export_person(world.account_id, email="nobody@example.com")


def test_export_gathers_every_browser_and_purchase_of_the_person(world: PrivacyWorld) -> None:
    world.ana_buys_after_two_domains()
    world.visit("ben-laptop", "instagram")
    world.identify("ben-laptop", BEN)

    export = world.privacy.export_person(world.account_id, email=ANA.upper())

    assert export["emails"] == [ANA]
    assert export["visitor_ids"] == ["ana-main-1", "ana-school-1"]
    tables = export["tables"]
    assert {v["visitor_key"] for v in tables["visitors"]} == {"ana-main-1", "ana-school-1"}
    assert [p["email"] for p in tables["purchases"]] == [ANA]
    assert {c["email"] for c in tables["visitor_emails"]} == {ANA}
    assert len(tables["events"]) == 3
    assert BEN not in str(export)
    # The same person found from one of their visitor ids.
    by_key = world.privacy.export_person(world.account_id, visitor_key="ana-main-1")
    assert by_key["emails"] == [ANA]
    assert by_key["tables"]["purchases"] == tables["purchases"]


def test_erasure_removes_the_person_and_keeps_the_sale_without_a_buyer(
    world: PrivacyWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world.ana_buys_after_two_domains()
    world.visit("ben-laptop", "instagram")
    world.identify("ben-laptop", BEN)
    world.buy("k-ben", email=BEN, cents=5000)
    assert world.purchase("k-ana").status is AttributionStatus.MATCHED

    with caplog.at_level(logging.INFO, logger="core.services.privacy"):
        report = world.privacy.erase_person(world.account_id, email=ANA)

    assert (report.visitors_erased, report.purchases_detached) == (2, 1)
    keys = {v.key for v in world.store.visitors.values()}
    assert keys == {"ben-laptop"}
    assert all(c.email != ANA for _, c in world.store.claims.values())
    assert not world.store.handoffs
    assert all(e.visitor_key == "ben-laptop" for e in world.store.events.values())
    sale = world.purchase("k-ana")
    assert sale.amount.amount == 19900
    assert (sale.email, sale.visitor_key, sale.visitor_id, sale.status) == (None, None, None, AttributionStatus.ERASED)
    assert world.credited("k-ana") == {}
    assert world.store.histories[sale.id or 0] == []
    # Ben is untouched.
    assert world.purchase("k-ben").email == BEN
    assert world.credited("k-ben")["first_touch"] == "Instagram"
    # The log names the request and counts, never the person.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert report.request_id in logged
    assert "2 visitors erased" in logged
    assert ANA not in logged
    assert "ana-" not in logged
    with pytest.raises(PersonNotFound):
        world.privacy.export_person(world.account_id, email=ANA)


def test_an_erased_sale_is_never_pinned_on_someone_else(world: PrivacyWorld) -> None:
    """A stranger's browser reached checkout just before the sale: timing matching must not take over."""
    world.visit("ana-main-1", "youtube", fingerprint="fp-ana")
    world.send(EventKind.PAGEVIEW, "ana-main-1", "https://example.com/checkout", fingerprint="fp-ana")
    world.identify("ana-main-1", ANA)
    world.visit("stranger1", "tiktok", fingerprint="fp-x")
    world.send(EventKind.PAGEVIEW, "stranger1", "https://example.com/checkout", fingerprint="fp-x")
    world.clock.advance(minutes=2)
    world.buy("k-ana", email=ANA)

    world.privacy.erase_person(world.account_id, visitor_key="ana-main-1")
    world.attribution.reattribute_all(world.account_id, force=True)

    sale = world.purchase("k-ana")
    assert sale.status is AttributionStatus.ERASED
    assert sale.visitor_id is None
    assert world.credited("k-ana") == {}


def test_a_shared_browser_goes_whole_but_the_other_persons_sale_stays_theirs(world: PrivacyWorld) -> None:
    world.visit("family-pc", "youtube")
    world.identify("family-pc", ANA)
    world.clock.advance(hours=1)
    world.visit("ben-phone", "instagram")
    world.identify("ben-phone", BEN)
    world.clock.advance(hours=1)
    world.identify("family-pc", BEN)
    world.clock.advance(minutes=5)
    world.buy("k-ben", email=BEN)
    assert world.purchase("k-ben").visitor_id == world.visitor_id("family-pc")

    report = world.privacy.erase_person(world.account_id, email=ANA)

    assert report.purchases_detached == 0
    assert report.purchases_reattributed == 1
    sale = world.purchase("k-ben")
    assert sale.email == BEN
    assert sale.status is AttributionStatus.MATCHED
    assert sale.visitor_id == world.visitor_id("ben-phone")
    assert world.credited("k-ben")["first_touch"] == "Instagram"


def test_erasure_redacts_raw_webhook_deliveries(world: PrivacyWorld) -> None:
    with world.uow() as uow:
        connection = uow.connections.add(
            Connection(world.account_id, "kajabi", ConnectionStatus.CONNECTED, world.clock.now())
        )
        assert connection.id is not None
        body = b'{"customer": {"email": "Ana@Example.com"}, "other": "ben@example.com"}'
        uow.webhook_deliveries.add(StoredDelivery(connection.id, "evt1", body, {}, world.clock.now()))
        uow.commit()
    world.buy("k-ana", email=ANA)

    report = world.privacy.erase_person(world.account_id, email=ANA)

    assert report.deliveries_redacted == 1
    (stored,) = world.store.deliveries.values()
    assert stored.body == f'{{"customer": {{"email": "{REDACTED}"}}, "other": "ben@example.com"}}'.encode()


def _signed_up(world: PrivacyWorld) -> int:
    account = world.full_accounts.create_verified_account("creator2@example.com", PASSWORD)
    assert account.id is not None
    with world.uow() as uow:
        uow.billing.save(Subscription(world.account_id, stripe_subscription_id="x"))  # another account's plan
        uow.billing.save(
            Subscription(account.id, stripe_customer_id="cus_1", stripe_subscription_id="sub_1", stripe_status="active")
        )
        uow.commit()
    return account.id


def test_account_erasure_cancels_the_paid_plan_then_deletes(world: PrivacyWorld) -> None:
    account_id = _signed_up(world)
    with pytest.raises(WrongPassword):
        world.privacy.erase_account(account_id, "wrong password here")
    assert world.gateway.cancelled == []
    assert account_id in world.store.accounts

    world.gateway.unavailable = True
    with pytest.raises(BillingUnavailable):
        world.privacy.erase_account(account_id, PASSWORD)
    assert account_id in world.store.accounts

    world.gateway.unavailable = False
    request_id = world.privacy.erase_account(account_id, PASSWORD)

    assert request_id
    assert world.gateway.cancelled == ["sub_1"]
    assert account_id not in world.store.accounts


def test_account_erasure_without_a_plan_cancels_nothing(world: PrivacyWorld) -> None:
    account = world.full_accounts.create_verified_account("creator3@example.com", PASSWORD)
    assert account.id is not None
    world.privacy.erase_account(account.id, PASSWORD)
    assert world.gateway.cancelled == []
    assert account.id not in world.store.accounts


def test_account_export_holds_the_account_and_its_rows(world: PrivacyWorld) -> None:
    world.buy("k-1", email=ANA)
    world.visit("v-1-abcdef", "youtube")
    export = world.privacy.export_account(world.account_id)
    assert export["account"]["email"] == "creator@example.com"
    assert [p["email"] for p in export["tables"]["purchases"]] == [ANA]
    assert export["tracking_row_counts"] == {"visitors": 1}


def test_retention_deletes_only_old_raw_events_and_keeps_sessions(world: PrivacyWorld) -> None:
    world.visit("old-visitor", "youtube")
    world.clock.advance(days=40)
    world.visit("new-visitor", "instagram")
    sessions_before = len(world.store.sessions)

    assert world.privacy.delete_expired_events(batch=1) == 1

    assert [e.visitor_key for e in world.store.events.values()] == ["new-visitor"]
    assert len(world.store.sessions) == sessions_before
    assert world.privacy.delete_expired_events() == 0


@pytest.mark.parametrize("status", ["canceled", "incomplete_expired"])
def test_a_plan_that_ended_is_not_cancelled_again(world: PrivacyWorld, status: str) -> None:
    account = world.full_accounts.create_verified_account("creator4@example.com", PASSWORD)
    assert account.id is not None
    with world.uow() as uow:
        uow.billing.save(Subscription(account.id, stripe_subscription_id="sub_9", stripe_status=status))
        uow.commit()
    world.privacy.erase_account(account.id, PASSWORD)
    assert world.gateway.cancelled == []
    assert account.id not in world.store.accounts


def test_a_browser_known_only_from_the_persons_purchase_is_erased_too(world: PrivacyWorld) -> None:
    world.visit("quiet-browser", "youtube")  # never typed an email; the sale carried its id
    world.buy("k-ana", email=ANA, visitor_key="quiet-browser")
    assert world.purchase("k-ana").status is AttributionStatus.MATCHED

    report = world.privacy.erase_person(world.account_id, email=ANA)

    assert (report.visitors_erased, report.purchases_detached) == (1, 1)
    assert world.store.visitors == {}
    assert world.purchase("k-ana").status is AttributionStatus.ERASED


def test_erasing_a_gifts_recipient_keeps_the_payers_sale(world: PrivacyWorld) -> None:
    world.visit("payer-browser", "newsletter")
    world.identify("payer-browser", BEN)
    world.visit("ana-browser", "youtube")
    world.identify("ana-browser", ANA)
    world.clock.advance(minutes=5)
    world.buy("k-gift", email=BEN, recipient_email=ANA)
    assert set(world.credited("k-gift").values()) == {"Email", "YouTube"}

    report = world.privacy.erase_person(world.account_id, email=ANA)

    assert (report.visitors_erased, report.purchases_detached, report.purchases_reattributed) == (1, 0, 1)
    gift = world.purchase("k-gift")
    assert (gift.email, gift.recipient_email, gift.status) == (BEN, None, AttributionStatus.MATCHED)
    assert set(world.credited("k-gift").values()) == {"Email"}
