"""The first five minutes: which onboarding steps a creator has done, so any step can be resumed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum


class Step(IntEnum):
    PLATFORM = 1
    CONNECT = 2
    SYNC = 3
    SNIPPET = 4
    DASHBOARD = 5

    @property
    def title(self) -> str:
        return _TITLES[self]


_TITLES = {
    Step.PLATFORM: "Choose your platform",
    Step.CONNECT: "Connect your platform",
    Step.SYNC: "Bring in purchases",
    Step.SNIPPET: "Add the tracking snippet",
    Step.DASHBOARD: "See your revenue by source",
}


@dataclass(slots=True)
class OnboardingProgress:
    account_id: int
    platform: str | None = None
    synced_at: datetime | None = None
    purchases_imported: int = 0
    completed_at: datetime | None = None
    # The platform connection made in step 2, whose sync step 3 watches; None for a CSV upload.
    connection_id: int | None = None

    def is_done(self, step: Step, has_site: bool) -> bool:
        if step is Step.PLATFORM:
            return self.platform is not None
        if step is Step.CONNECT:
            return self.connection_id is not None or self.synced_at is not None
        if step is Step.SYNC:
            return self.synced_at is not None
        if step is Step.SNIPPET:
            return has_site and self.completed_at is not None
        return self.completed_at is not None

    def current_step(self, has_site: bool) -> Step:
        """The first step not yet done: where a returning creator picks up."""
        for step in Step:
            if step is not Step.DASHBOARD and not self.is_done(step, has_site):
                return step
        return Step.DASHBOARD

    def choose_platform(self, platform: str) -> None:
        if platform != self.platform:
            self.platform = platform
            self.synced_at = None
            self.purchases_imported = 0
            self.connection_id = None

    def record_connection(self, connection_id: int) -> None:
        """A new connection starts its own sync, which step 3 waits for again."""
        if connection_id != self.connection_id:
            self.connection_id = connection_id
            self.synced_at = None
            self.purchases_imported = 0

    def record_sync(self, now: datetime, purchases_imported: int) -> None:
        self.synced_at = now
        self.purchases_imported = purchases_imported

    def complete(self, now: datetime) -> None:
        if self.completed_at is None:
            self.completed_at = now
