"""The onboarding wizard's state: which step comes next, and sites that belong to someone else."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from core.domain.connections import Connection, ConnectionStatus
from core.domain.onboarding import OnboardingProgress, Step
from core.domain.sites import Account
from core.ports.platforms import PlatformAdapter
from core.services.onboarding import Onboarding, SiteNotFound
from plugins.csv_import import CsvPlatform
from tests.unit.fakes import FakeUnitOfWork, FixedClock, Store


class OneCatalog:
    def __init__(self, *platforms: PlatformAdapter) -> None:
        self._platforms = {p.name: p for p in platforms}

    def get(self, name: str) -> PlatformAdapter:
        return self._platforms[name]

    def all(self) -> Sequence[PlatformAdapter]:
        return list(self._platforms.values())


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def onboarding(store: Store) -> Onboarding:
    return Onboarding(lambda: FakeUnitOfWork(store), FixedClock(), OneCatalog(CsvPlatform()))


def _account(store: Store, email: str) -> int:
    with FakeUnitOfWork(store) as uow:
        account = uow.accounts.add(Account(email=email, created_at=FixedClock().now()))
        uow.commit()
    assert account.id is not None
    return account.id


def test_the_wizard_resumes_at_the_first_step_not_done(store: Store, onboarding: Onboarding) -> None:
    account_id = _account(store, "a@example.com")
    assert onboarding.state(account_id).current_step is Step.PLATFORM
    onboarding.choose_platform(account_id, "csv")
    assert onboarding.state(account_id).current_step is Step.CONNECT
    onboarding.record_sync(account_id, purchases_imported=3)
    state = onboarding.state(account_id)
    assert state.current_step is Step.SNIPPET
    assert state.progress.purchases_imported == 3
    onboarding.create_site(account_id, "https://www.Example.com/")
    assert onboarding.state(account_id).current_step is Step.SNIPPET  # until the creator moves on
    onboarding.complete(account_id)
    state = onboarding.state(account_id)
    assert state.current_step is Step.DASHBOARD
    assert state.remaining == []
    assert state.site is not None
    assert state.site.allowed_domains == ("example.com",)


def test_choosing_another_platform_asks_to_connect_again(store: Store, onboarding: Onboarding) -> None:
    account_id = _account(store, "a@example.com")
    onboarding.choose_platform(account_id, "csv")
    onboarding.record_sync(account_id, 1)
    onboarding.choose_platform(account_id, "csv")
    assert onboarding.state(account_id).current_step is Step.SNIPPET
    with pytest.raises(KeyError):
        onboarding.choose_platform(account_id, "not-installed")


def test_one_site_per_account_from_the_wizard(store: Store, onboarding: Onboarding) -> None:
    account_id = _account(store, "a@example.com")
    first = onboarding.create_site(account_id, "example.com")
    again = onboarding.create_site(account_id, "other.example")
    assert again.id == first.id
    with pytest.raises(ValueError, match="not a domain"):
        onboarding.create_site(_account(store, "b@example.com"), "not a domain")


def test_another_accounts_site_is_not_found(store: Store, onboarding: Onboarding) -> None:
    owner = _account(store, "a@example.com")
    stranger = _account(store, "b@example.com")
    site = onboarding.create_site(owner, "example.com")
    assert site.id is not None
    assert onboarding.first_visit_seen(owner, site.id) is False
    with pytest.raises(SiteNotFound):
        onboarding.first_visit_seen(stranger, site.id)


def _connection(store: Store, account_id: int) -> Connection:
    with FakeUnitOfWork(store) as uow:
        connection = uow.connections.add(
            Connection(
                account_id=account_id,
                platform="csv",
                status=ConnectionStatus.CHOOSING,
                created_at=FixedClock().now(),
            )
        )
        uow.commit()
    return connection


def _set_status(store: Store, connection: Connection, change: Callable[[Connection], None]) -> None:
    change(connection)
    with FakeUnitOfWork(store) as uow:
        uow.connections.update(connection)
        uow.commit()


def test_the_sync_step_waits_for_the_onboarding_connection(store: Store, onboarding: Onboarding) -> None:
    account_id = _account(store, "a@example.com")
    onboarding.choose_platform(account_id, "csv")
    connection = _connection(store, account_id)
    assert connection.id is not None
    onboarding.record_connection(account_id, connection.id)
    assert onboarding.state(account_id).current_step is Step.SYNC  # connected: resumes at the progress
    _set_status(store, connection, lambda c: c.start_sync(FixedClock().now()))
    assert not onboarding.finish_connection_sync(account_id)
    assert onboarding.state(account_id).current_step is Step.SYNC

    def synced(c: Connection) -> None:
        c.synced(FixedClock().now())
        c.sync.purchases_found = 4

    _set_status(store, connection, synced)
    assert onboarding.finish_connection_sync(account_id)
    state = onboarding.state(account_id)
    assert state.current_step is Step.SNIPPET
    assert state.progress.purchases_imported == 4
    assert state.progress.connection_id == connection.id


def test_another_accounts_connection_never_finishes_the_sync_step(store: Store, onboarding: Onboarding) -> None:
    owner = _account(store, "owner@example.com")
    other = _account(store, "other@example.com")
    connection = _connection(store, owner)
    assert connection.id is not None

    def synced(c: Connection) -> None:
        c.start_sync(FixedClock().now())
        c.synced(FixedClock().now())

    _set_status(store, connection, synced)
    onboarding.choose_platform(other, "csv")
    onboarding.record_connection(other, connection.id)
    assert not onboarding.finish_connection_sync(other)
    assert onboarding.state(other).current_step is Step.SYNC


def test_choosing_another_platform_forgets_the_connection() -> None:
    progress = OnboardingProgress(account_id=1, platform="kajabi")
    progress.record_connection(7)
    progress.record_sync(FixedClock().now(), 3)
    progress.record_connection(7)  # the same connection again: its sync still counts
    assert progress.synced_at is not None
    progress.choose_platform("teachable")
    assert progress.connection_id is None
    assert progress.synced_at is None
    assert not progress.is_done(Step.CONNECT, has_site=False)
