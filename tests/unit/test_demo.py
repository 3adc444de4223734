"""The demo account on in-memory fakes: the traffic lies in the past, the setup is done, and it happens once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from adapters.simulator.demo import DEMO_EMAIL, DEMO_PLATFORM, fill_demo_account
from adapters.simulator.playing import SimulatedClock, SimulationServices
from core.domain.purchases import AttributionStatus
from core.domain.subscriptions import trial_days_left
from core.ports.platforms import PlatformAdapter
from core.services.accounts import Accounts
from core.services.attribution import Attribution
from core.services.fingerprints import FingerprintSalts
from core.services.onboarding import Onboarding
from core.services.purchases import Purchases
from core.services.tracking import Tracking
from plugins.csv_import import CsvPlatform
from tests.unit.attribution_world import RunningJobQueue
from tests.unit.fakes import FakeInbox, FakePasswordHasher, FakeRateLimiter, FakeUnitOfWork, Store

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
PASSWORD = "a demo passphrase"


class NamedCatalog:
    """The demo only names its platform during onboarding; any installed adapter stands in for it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def get(self, name: str) -> PlatformAdapter:
        if name != self._name:
            raise KeyError(name)
        return CsvPlatform()

    def all(self) -> Sequence[PlatformAdapter]:
        return [CsvPlatform()]


def test_the_demo_fills_the_past_once_and_leaves_the_setup_done() -> None:
    store = Store()
    clock = SimulatedClock(datetime(2020, 1, 1, tzinfo=UTC))
    uow = lambda: FakeUnitOfWork(store)  # noqa: E731
    jobs = RunningJobQueue()
    jobs.attribution = Attribution(uow)
    services = SimulationServices(
        accounts=Accounts(uow, clock, hasher=FakePasswordHasher()),
        purchases=Purchases(uow, platforms=None),  # type: ignore[arg-type]
        tracking=Tracking(uow, jobs, FakeRateLimiter(), clock, FakeInbox(store)),
        salts=FingerprintSalts(uow, clock),
        uow=uow,
    )
    onboarding = Onboarding(uow, clock, NamedCatalog(DEMO_PLATFORM))  # type: ignore[arg-type]

    outcome = fill_demo_account(services, onboarding, clock, now=NOW, password=PASSWORD, people=80)

    assert outcome.created
    assert clock.now() == NOW
    stored = [p for p in store.purchases.values() if p.account_id == outcome.account_id]
    assert len(stored) == outcome.purchases >= 8
    assert all(NOW - timedelta(days=60) < p.purchased_at < NOW for p in stored)
    assert sum(p.status is AttributionStatus.MATCHED for p in stored) > len(stored) / 2
    account = services.accounts.login(DEMO_EMAIL, PASSWORD).account
    assert account.id == outcome.account_id
    assert trial_days_left(account.trial_ends_at, NOW) == 14
    assert onboarding.state(outcome.account_id).remaining == []

    again = fill_demo_account(services, onboarding, clock, now=NOW + timedelta(days=1), people=80)
    assert not again.created
    assert again.account_id == outcome.account_id
    assert len(store.purchases) == len(stored)
