"""The ingestion pipeline for tracker events: small named steps, each may drop with a reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.domain.bots import is_bot
from core.domain.checkout import CheckoutReach, is_checkout_url
from core.domain.events import PER_CLIENT_LIMIT, PER_SITE_LIMIT, DropReason, EventKind, TrackerEvent
from core.domain.identities import EmailClaim, Handoff, handoff_from_url
from core.domain.sites import Site
from core.domain.touches import touch_from_landing
from core.domain.visitors import Session, Visitor
from core.ports.jobs import JobQueue
from core.ports.rate_limits import RateLimiter
from core.ports.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    dropped: DropReason | None = None

    @property
    def stored(self) -> bool:
        return self.dropped is None


STORED = IngestOutcome()


def _visitor_for(uow: UnitOfWork, site: Site, event: TrackerEvent) -> tuple[Visitor, bool]:
    """The event's visitor, and whether it is new."""
    assert site.id is not None
    return uow.visitors.get_or_add(Visitor(site_id=site.id, key=event.visitor_key, first_seen_at=event.received_at))


def _record_pageview(uow: UnitOfWork, site: Site, visitor: Visitor, event: TrackerEvent) -> tuple[int, bool]:
    """Continue the visitor's session or start a new one; returns the session id and whether it is new."""
    assert visitor.id is not None
    touch = touch_from_landing(
        url=event.url, referrer=event.referrer, occurred_at=event.received_at, own_domains=site.own_domains
    )
    session = uow.sessions.latest(visitor.id)
    started = False
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
                fingerprint=event.fingerprint,
            )
        )
        visitor.record_touch(touch)
        uow.visitors.update(visitor)
        started = True
    assert session.id is not None
    return session.id, started


def _record_identity_facts(uow: UnitOfWork, site: Site, visitor: Visitor, event: TrackerEvent) -> bool:
    """Store what the event says about who the visitor is; True when something new was learnt."""
    assert visitor.id is not None
    learnt = False
    if event.kind is EventKind.IDENTIFY and event.email:
        earlier = {c.email for c in uow.identities.claims_of({visitor.id})}
        stored = uow.identities.add_claim(site.account_id, EmailClaim(visitor.id, event.email, event.received_at))
        # Repeating the only email a browser ever gave changes no identity; anything else can.
        learnt |= stored and earlier != {event.email}
    if event.kind is EventKind.PAGEVIEW:
        handed = event.handoff_from or handoff_from_url(event.url, event.received_at)
        if handed and handed != visitor.key:
            other = uow.visitors.with_key(site.account_id, handed)
            if other is not None and other.id is not None:
                learnt |= uow.identities.add_handoff(site.account_id, Handoff(other.id, visitor.id, event.received_at))
    if event.kind in (EventKind.PAGEVIEW, EventKind.CLICK) and is_checkout_url(event.url):
        uow.identities.add_checkout_reach(
            site.account_id, CheckoutReach(visitor.id, event.fingerprint, event.received_at)
        )
        learnt = True
    return learnt


class Tracking:
    """Record one tracker event: drop bots, find the site, keep the visitor, session and event."""

    def __init__(self, uow: Callable[[], UnitOfWork], jobs: JobQueue, limiter: RateLimiter) -> None:
        self._uow = uow
        self._jobs = jobs
        self._limiter = limiter

    def _over_limit(self, event: TrackerEvent) -> bool:
        if event.client_address and not self._limiter.allow(f"client:{event.client_address}", PER_CLIENT_LIMIT):
            return True
        return not self._limiter.allow(f"site:{event.site_key}", PER_SITE_LIMIT)

    def record(self, event: TrackerEvent) -> IngestOutcome:
        if is_bot(event.user_agent):
            return IngestOutcome(DropReason.BOT)
        if self._over_limit(event):
            return IngestOutcome(DropReason.RATE_LIMITED)
        with self._uow() as uow:
            site = uow.sites.get_by_key(event.site_key)
            if site is None or site.id is None:
                return IngestOutcome(DropReason.UNKNOWN_SITE)
            visitor, new_visitor = _visitor_for(uow, site, event)
            assert visitor.id is not None
            session_id, new_session = None, False
            if event.kind is EventKind.PAGEVIEW:
                session_id, new_session = _record_pageview(uow, site, visitor, event)
            if not uow.events.add(event, site.id, visitor.id, session_id):
                uow.rollback()
                return IngestOutcome(DropReason.DUPLICATE)
            learnt = _record_identity_facts(uow, site, visitor, event)
            if event.kind is EventKind.IDENTIFY and event.email and visitor.email != event.email:
                visitor.identify(event.email)
                uow.visitors.update(visitor)
            # A visit can only change stored results when it arrived after a purchase it precedes: a late event.
            late = new_session and uow.purchases.any_purchased_since(site.account_id, event.received_at)
            # A sale that carried this visitor id may have come in before the browser's first event did.
            awaited = new_visitor and bool(
                uow.purchases.involving(site.account_id, visitor_ids=(), keys={visitor.key}, emails=())
            )
            reattribute = learnt or late or awaited
            uow.commit()
        if reattribute:
            self._jobs.enqueue("reattribute_visitor", site.account_id, visitor.id)
        return STORED
