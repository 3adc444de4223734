"""The ingestion pipeline for tracker events: small named steps, each may drop with a reason.

It runs in two halves. `accept` is the request path: drop bots, hold back floods, check the site key in a
small in-process cache, and store the event once (keyed by its client event id) in the inbound table, its
first durable write; then queue the processing. `process_pending` is the job: the pipeline's steps (visitor,
session, event, identity facts, late-visit checks) over an account's waiting events in the order they were
accepted, in batches; each batch is one transaction that also marks its events processed, so a crash mid-batch
or a second run of the same job counts nothing twice. `sweep`, run every few seconds, picks up whatever a
lost job (Redis down, a worker killed) left waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from core.domain.bots import is_bot
from core.domain.checkout import CheckoutReach, is_checkout_url
from core.domain.events import (
    PER_CLIENT_LIMIT,
    PER_SITE_LIMIT,
    DropReason,
    EventKind,
    InboundEvent,
    TrackerEvent,
)
from core.domain.identities import EmailClaim, Handoff, handoff_from_url
from core.domain.sites import Site
from core.domain.touches import touch_from_landing
from core.domain.visitors import Session, Visitor
from core.ports.clock import Clock
from core.ports.inbox import Inbox
from core.ports.jobs import JobQueue
from core.ports.rate_limits import RateLimiter
from core.ports.uow import UnitOfWork

log = logging.getLogger(__name__)

PROCESS_TASK = "process_tracker_events"
SWEEP_TASK = "sweep_tracker_events"
# How often the sweeper looks for events no job picked up.
SWEEP_SECONDS = 5
# Events per transaction: enough to share the commit, few enough that the write lock (SQLite's is the
# whole database) is held only briefly while requests keep arriving.
BATCH_SIZE = 50
# An event whose processing fails this many times is set aside ("failed") so it holds back no other.
GIVE_UP_AFTER = 5
# Processed rows stay a little while (for diagnosis), then go: a retried beacon is still caught later by
# the events table's own (site, client event id) key.
INBOUND_RETENTION = timedelta(hours=1)
STORED_OUTCOME = "stored"
FAILED_OUTCOME = "failed"


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    dropped: DropReason | None = None

    @property
    def stored(self) -> bool:
        return self.dropped is None


STORED = IngestOutcome()


@dataclass(frozen=True, slots=True)
class KnownSite:
    id: int
    account_id: int
    respect_gpc: bool = False


class SiteKeyCache:
    """Site keys the request path has looked up, remembered for `seconds`, unknown ones too (so a flood of
    made-up keys costs no queries). A site created or deleted, or its Global Privacy Control setting changed,
    is seen within that time; its domains are read fresh by the processing job, never from here."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        *,
        seconds: float = 30,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow
        self._seconds = seconds
        self._size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, KnownSite | None]] = {}

    def get(self, site_key: str) -> KnownSite | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(site_key)
        if entry is not None and entry[0] > now:
            return entry[1]
        with self._uow() as uow:
            site = uow.sites.get_by_key(site_key)
        known = (
            KnownSite(site.id, site.account_id, site.respect_gpc) if site is not None and site.id is not None else None
        )
        with self._lock:
            if site_key not in self._entries and len(self._entries) >= self._size:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                while len(self._entries) >= self._size:  # still full of live entries: forget the oldest
                    del self._entries[next(iter(self._entries))]
            self._entries[site_key] = (now + self._seconds, known)
        return known


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
    # The tracker sends a click only for one through to a checkout (by the same rules, and the site's own
    # checkout paths from its snippet), so every click is a reach; a page view is one on a checkout page,
    # the platforms' or the site's own.
    at_checkout = event.kind is EventKind.PAGEVIEW and is_checkout_url(event.url, site.checkout_paths)
    if event.kind is EventKind.CLICK or at_checkout:
        uow.identities.add_checkout_reach(
            site.account_id, CheckoutReach(visitor.id, event.fingerprint, event.received_at)
        )
        learnt = True
    return learnt


class ConcurrentIngestion(RuntimeError):
    """Another processor stored the same event inside our batch: the account lock should make this impossible."""


def _ingest(uow: UnitOfWork, site: Site, event: TrackerEvent) -> tuple[int, bool]:
    """The pipeline's steps for one event not stored before: its visitor id, and whether stored results
    may change (so the visitor's purchases are attributed again)."""
    assert site.id is not None
    visitor, new_visitor = _visitor_for(uow, site, event)
    assert visitor.id is not None
    session_id, new_session = None, False
    if event.kind is EventKind.PAGEVIEW:
        session_id, new_session = _record_pageview(uow, site, visitor, event)
    if not uow.events.add(event, site.id, visitor.id, session_id):
        raise ConcurrentIngestion(f"event {event.client_event_id} of site {site.id} stored by another processor")
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
    return visitor.id, bool(learnt or late or awaited)


@dataclass
class _Batch:
    outcomes: dict[int, str]
    reattribute: list[int]


def _ingest_batch(uow: UnitOfWork, account_id: int, batch: Sequence[InboundEvent]) -> _Batch:
    sites: dict[int, Site | None] = {
        site_id: uow.sites.get_for_account(account_id, site_id) for site_id in {e.site_id for e in batch}
    }
    seen = uow.events.stored_client_ids(set(sites), {e.event.client_event_id for e in batch})
    done = _Batch({}, [])
    for inbound in batch:
        site = sites[inbound.site_id]
        key = (inbound.site_id, inbound.event.client_event_id)
        if site is None:
            done.outcomes[inbound.id] = DropReason.UNKNOWN_SITE.value
        elif key in seen:
            done.outcomes[inbound.id] = DropReason.DUPLICATE.value
        else:
            visitor_id, reattribute = _ingest(uow, site, inbound.event)
            seen.add(key)
            done.outcomes[inbound.id] = STORED_OUTCOME
            if reattribute and visitor_id not in done.reattribute:
                done.reattribute.append(visitor_id)
    return done


class Tracking:
    """Record tracker events: accept them on the request path, run the pipeline on them in a job."""

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        jobs: JobQueue,
        limiter: RateLimiter,
        clock: Clock,
        inbox: Inbox,
        *,
        site_cache_seconds: float = 30,
    ) -> None:
        self._uow = uow
        self._inbox = inbox
        self._jobs = jobs
        self._limiter = limiter
        self._clock = clock
        self._sites = SiteKeyCache(uow, seconds=site_cache_seconds)
        self._counts_lock = threading.Lock()
        self._dropped: Counter[DropReason] = Counter()

    # --- counting -------------------------------------------------------------------------------------

    def _drop(self, reason: DropReason, count: int = 1) -> IngestOutcome:
        with self._counts_lock:
            self._dropped[reason] += count
        return IngestOutcome(reason)

    def dropped_counts(self) -> dict[str, int]:
        """Events this process dropped, by reason, since it started."""
        with self._counts_lock:
            return {reason.value: count for reason, count in self._dropped.items()}

    # --- the request path -----------------------------------------------------------------------------

    def _over_limit(self, event: TrackerEvent) -> bool:
        if event.client_address and not self._limiter.allow(f"client:{event.client_address}", PER_CLIENT_LIMIT):
            return True
        return not self._limiter.allow(f"site:{event.site_key}", PER_SITE_LIMIT)

    def _count_bot(self, event: TrackerEvent) -> None:
        """Count a dropped bot visit for its site, so the creator sees how much was left out (up to the
        sender's rate limit: a crawler hammering the endpoint costs no more than anyone else)."""
        if self._over_limit(event):
            return
        site = self._sites.get(event.site_key)
        if site is None:
            return
        try:
            with self._uow() as uow:
                uow.bot_visits.add(site.id, event.received_at.date())
                uow.commit()
        except Exception:
            # A count is not worth failing the request over; the bot is dropped all the same.
            log.warning("a bot visit to site %s could not be counted", site.id, exc_info=True)

    def _store_inbound(self, event: TrackerEvent) -> tuple[IngestOutcome, KnownSite | None]:
        if is_bot(event.user_agent):
            self._count_bot(event)
            return self._drop(DropReason.BOT), None
        if self._over_limit(event):
            return self._drop(DropReason.RATE_LIMITED), None
        site = self._sites.get(event.site_key)
        if site is None:
            return self._drop(DropReason.UNKNOWN_SITE), None
        # The snippet of a site that respects GPC sends nothing for such browsers; this holds for an older
        # snippet without the attribute too.
        if site.respect_gpc and event.declines_tracking:
            return self._drop(DropReason.OPTED_OUT), None
        if not self._inbox.store(site.id, event):
            return self._drop(DropReason.DUPLICATE), None
        return STORED, site

    def accept(self, event: TrackerEvent) -> IngestOutcome:
        """Store the event for the pipeline and queue its processing; what the collect endpoint calls."""
        outcome, site = self._store_inbound(event)
        if site is not None:
            # When the queue cannot take it (Redis down), the event waits in the table for the sweeper.
            self._jobs.enqueue(PROCESS_TASK, site.account_id)
        return outcome

    def record(self, event: TrackerEvent) -> IngestOutcome:
        """Accept the event and run the pipeline on it at once (the simulator, and tests)."""
        outcome, site = self._store_inbound(event)
        if site is None:
            return outcome
        outcome_name = self._process(site.account_id).get(event.client_event_id, STORED_OUTCOME)
        if outcome_name == FAILED_OUTCOME:
            raise RuntimeError(f"tracker event {event.client_event_id} could not be processed (see the log)")
        return STORED if outcome_name == STORED_OUTCOME else IngestOutcome(DropReason(outcome_name))

    # --- the job --------------------------------------------------------------------------------------

    def process_pending(self, account_id: int) -> int:
        """Run the pipeline over the account's waiting events, oldest first; how many were processed."""
        return len(self._process(account_id))

    def _process(self, account_id: int) -> dict[str, str]:
        """Outcomes by client event id of everything processed."""
        outcomes: dict[str, str] = {}
        while True:
            processed, full = self._process_batch(account_id)
            outcomes.update(processed)
            if not full:
                return outcomes

    def _process_batch(self, account_id: int) -> tuple[dict[str, str], bool]:
        with self._uow() as uow:
            # One processor per account at a time: its events stay in order, and two processors never
            # update the same visitor counts in opposite orders.
            uow.inbound_events.lock_account(account_id)
            batch = uow.inbound_events.pending(account_id, BATCH_SIZE)
            if not batch:
                return {}, False
            try:
                done = _ingest_batch(uow, account_id, batch)
                uow.inbound_events.mark_processed(done.outcomes, self._clock.now())
                uow.commit()
            except Exception:
                log.warning("a batch of %d tracker events failed; processing them one at a time", len(batch))
                uow.rollback()
                done = None
        if done is None:
            done = self._process_one_by_one(account_id, [e.id for e in batch])
        self._after_commit(account_id, done)
        by_id = {e.id: e.event.client_event_id for e in batch}
        return {by_id[i]: outcome for i, outcome in done.outcomes.items()}, len(batch) == BATCH_SIZE

    def _process_one_by_one(self, account_id: int, ids: Sequence[int]) -> _Batch:
        """One transaction per event, so one event that cannot be processed holds back no other."""
        total = _Batch({}, [])
        for event_id in ids:
            try:
                with self._uow() as uow:
                    uow.inbound_events.lock_account(account_id)
                    batch = [e for e in uow.inbound_events.pending(account_id, BATCH_SIZE) if e.id == event_id]
                    done = _ingest_batch(uow, account_id, batch)
                    uow.inbound_events.mark_processed(done.outcomes, self._clock.now())
                    uow.commit()
            except Exception:
                log.exception("tracker event %s could not be processed", event_id)
                # Recording the failure needs the database: when that is down too, this raises and the
                # events wait for the next run.
                with self._uow() as uow:
                    uow.inbound_events.note_failure(event_id, GIVE_UP_AFTER, self._clock.now())
                    uow.commit()
                continue
            total.outcomes.update(done.outcomes)
            total.reattribute += [v for v in done.reattribute if v not in total.reattribute]
        return total

    def _after_commit(self, account_id: int, done: _Batch) -> None:
        duplicates = sum(1 for outcome in done.outcomes.values() if outcome == DropReason.DUPLICATE.value)
        if duplicates:
            self._drop(DropReason.DUPLICATE, duplicates)
        for visitor_id in done.reattribute:
            self._jobs.enqueue("reattribute_visitor", account_id, visitor_id)

    def sweep(self) -> int:
        """Process every account's waiting events (those whose job was lost), and forget old processed ones."""
        with self._uow() as uow:
            accounts = uow.inbound_events.accounts_with_pending(limit=1000)
        processed = sum(self.process_pending(account_id) for account_id in accounts)
        with self._uow() as uow:
            uow.inbound_events.delete_processed_before(self._clock.now() - INBOUND_RETENTION)
            uow.commit()
        return processed

    def backlog(self, limit: int = 10_000) -> int:
        """How many accepted events wait for the pipeline (counted up to `limit`)."""
        with self._uow() as uow:
            return uow.inbound_events.backlog(limit)
