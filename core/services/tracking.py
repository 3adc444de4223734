"""The ingestion pipeline for tracker events: small named steps, each may drop with a reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.domain.bots import is_bot
from core.domain.events import DropReason, EventKind, TrackerEvent
from core.domain.sites import Site
from core.domain.touches import touch_from_landing
from core.domain.visitors import Session, Visitor
from core.ports.jobs import JobQueue
from core.ports.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    dropped: DropReason | None = None

    @property
    def stored(self) -> bool:
        return self.dropped is None


STORED = IngestOutcome()


def _visitor_for(uow: UnitOfWork, site: Site, event: TrackerEvent) -> Visitor:
    assert site.id is not None
    return uow.visitors.get_or_add(Visitor(site_id=site.id, key=event.visitor_key, first_seen_at=event.received_at))


def _record_pageview(uow: UnitOfWork, site: Site, visitor: Visitor, event: TrackerEvent) -> int:
    """Continue the visitor's session or start a new one; returns the session id."""
    assert visitor.id is not None
    touch = touch_from_landing(
        url=event.url, referrer=event.referrer, occurred_at=event.received_at, own_domains=site.own_domains
    )
    session = uow.sessions.latest(visitor.id)
    if session is not None and session.continues_with(touch):
        session.last_seen_at = max(session.last_seen_at, event.received_at)
        uow.sessions.touch_seen(session)
    else:
        session = uow.sessions.add(
            Session(
                visitor_id=visitor.id,
                touch=touch,
                started_at=touch.occurred_at,
                last_seen_at=touch.occurred_at,
            )
        )
        visitor.record_touch(touch)
        uow.visitors.update(visitor)
    assert session.id is not None
    return session.id


class Tracking:
    """Record one tracker event: drop bots, find the site, keep the visitor, session and event."""

    def __init__(self, uow: Callable[[], UnitOfWork], jobs: JobQueue) -> None:
        self._uow = uow
        self._jobs = jobs

    def record(self, event: TrackerEvent) -> IngestOutcome:
        if is_bot(event.user_agent):
            return IngestOutcome(DropReason.BOT)
        with self._uow() as uow:
            site = uow.sites.get_by_key(event.site_key)
            if site is None or site.id is None:
                return IngestOutcome(DropReason.UNKNOWN_SITE)
            visitor = _visitor_for(uow, site, event)
            assert visitor.id is not None
            session_id = _record_pageview(uow, site, visitor, event) if event.kind is EventKind.PAGEVIEW else None
            if not uow.events.add(event, site.id, visitor.id, session_id):
                uow.rollback()
                return IngestOutcome(DropReason.DUPLICATE)
            newly_identified = event.kind is EventKind.IDENTIFY and event.email and visitor.email != event.email
            if newly_identified and event.email:
                visitor.identify(event.email)
                uow.visitors.update(visitor)
            uow.commit()
        if newly_identified and event.email:
            self._jobs.enqueue("attribute_purchases_of_email", site.account_id, event.email)
        return STORED
