from __future__ import annotations

from typing import Protocol

from core.domain.events import TrackerEvent


class InboxUnavailable(Exception):
    """The event could not be stored (the database is unreachable): nothing was kept, the sender may retry."""


class Inbox(Protocol):
    """Where the collect endpoint stores an accepted tracker event before it answers: once `store` returns,
    the event is committed where a crash of the app process cannot lose it, waiting for the pipeline."""

    def store(self, site_id: int, event: TrackerEvent) -> bool:
        """Store the event once; False when the site already has this client event id, or is gone.

        Raises InboxUnavailable when it could not be stored."""
        ...
