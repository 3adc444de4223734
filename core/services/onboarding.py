"""The onboarding wizard's use cases: each step records what was done, so a creator can leave and resume."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.domain.connections import ConnectionStatus
from core.domain.onboarding import OnboardingProgress, Step
from core.domain.sites import Site, new_site_key, normalize_domain
from core.ports.clock import Clock
from core.ports.platforms import PlatformCatalog
from core.ports.uow import UnitOfWork


class SiteNotFound(LookupError):
    """No such site in this account: answered exactly like a site that does not exist at all."""


@dataclass(frozen=True, slots=True)
class OnboardingState:
    progress: OnboardingProgress
    site: Site | None

    @property
    def current_step(self) -> Step:
        return self.progress.current_step(self.site is not None)

    def is_done(self, step: Step) -> bool:
        return self.progress.is_done(step, self.site is not None)

    @property
    def remaining(self) -> list[Step]:
        return [step for step in Step if step is not Step.DASHBOARD and not self.is_done(step)]


class Onboarding:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, platforms: PlatformCatalog) -> None:
        self._uow = uow
        self._clock = clock
        self._platforms = platforms

    def state(self, account_id: int) -> OnboardingState:
        with self._uow() as uow:
            progress = uow.onboarding.get(account_id) or OnboardingProgress(account_id=account_id)
            sites = uow.sites.list_for_account(account_id)
        return OnboardingState(progress, sites[0] if sites else None)

    def _change(self, account_id: int, change: Callable[[OnboardingProgress], None]) -> None:
        with self._uow() as uow:
            progress = uow.onboarding.get(account_id) or OnboardingProgress(account_id=account_id)
            change(progress)
            uow.onboarding.save(progress)
            uow.commit()

    def choose_platform(self, account_id: int, platform: str) -> None:
        """Raises KeyError when no platform of that name is installed."""
        self._platforms.get(platform)
        self._change(account_id, lambda progress: progress.choose_platform(platform))

    def record_connection(self, account_id: int, connection_id: int) -> None:
        """The connection made in the connect step: the sync step shows its progress."""
        self._change(account_id, lambda progress: progress.record_connection(connection_id))

    def finish_connection_sync(self, account_id: int) -> bool:
        """Mark the sync step done once the onboarding's connection has synced; False while it has not."""
        with self._uow() as uow:
            progress = uow.onboarding.get(account_id)
            if progress is None or progress.connection_id is None:
                return False
            connection = uow.connections.get(progress.connection_id)
            if connection is None or connection.account_id != account_id:
                return False
            if connection.status is not ConnectionStatus.CONNECTED:
                return False
            if progress.synced_at is None:
                progress.record_sync(self._clock.now(), connection.sync.purchases_found)
                uow.onboarding.save(progress)
                uow.commit()
        return True

    def record_sync(self, account_id: int, purchases_imported: int) -> None:
        now = self._clock.now()
        self._change(account_id, lambda progress: progress.record_sync(now, purchases_imported))

    def complete(self, account_id: int) -> None:
        now = self._clock.now()
        self._change(account_id, lambda progress: progress.complete(now))

    def create_site(self, account_id: int, domain: str) -> Site:
        """The account's site for the snippet; raises ValueError for something that is not a domain name."""
        allowed = (normalize_domain(domain),)
        with self._uow() as uow:
            existing = uow.sites.list_for_account(account_id)
            if existing:
                return existing[0]
            site = uow.sites.add(Site(account_id=account_id, public_key=new_site_key(), allowed_domains=allowed))
            uow.commit()
            return site

    def first_visit_seen(self, account_id: int, site_id: int) -> bool:
        with self._uow() as uow:
            site = uow.sites.get_for_account(account_id, site_id)
            if site is None or site.id is None:
                raise SiteNotFound(site_id)
            return uow.sites.has_events(site.id)

    def purchases_count(self, account_id: int) -> int:
        with self._uow() as uow:
            return uow.purchases.count_for_account(account_id)
