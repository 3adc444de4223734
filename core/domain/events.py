"""What the tracker sends, once validated at the edge, and why ingestion may drop it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EventKind(StrEnum):
    PAGEVIEW = "pageview"
    IDENTIFY = "identify"
    CLICK = "click"  # the visitor clicked a link leaving the page; the URL is the link's target


class DropReason(StrEnum):
    BOT = "bot"
    INVALID = "invalid"
    UNKNOWN_SITE = "unknown_site"
    OPTED_OUT = "opted_out"
    RATE_LIMITED = "rate_limited"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class TrackerEvent:
    site_key: str
    client_event_id: str  # chosen by the browser, so a retried beacon is stored once
    kind: EventKind
    visitor_key: str
    url: str
    received_at: datetime
    referrer: str | None = None
    title: str | None = None
    email: str | None = None  # identify events only, already normalized
    user_agent: str | None = None
    # The salted network + browser hash the web edge computed; never the address itself.
    fingerprint: str | None = None
    # The sender's address, for rate limiting only: held in memory for the request, never stored.
    client_address: str | None = None
    # A visitor id handed over from another of the creator's domains, when the tracker sends it apart
    # from the landing URL's `_csv` parameter.
    handoff_from: str | None = None
    # The browser sent Global Privacy Control or Do Not Track: dropped for sites that respect them.
    declines_tracking: bool = False


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """An accepted event waiting in the inbound table for the ingestion pipeline."""

    id: int
    site_id: int
    account_id: int
    event: TrackerEvent
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class RateLimit:
    events: int
    per_seconds: int


# How much one sender and one site may send. A real browser sends a few events a minute; a site's limit
# protects the others sharing the database from one site's flood, far above any creator's real traffic.
PER_CLIENT_LIMIT = RateLimit(events=300, per_seconds=60)
PER_SITE_LIMIT = RateLimit(events=30_000, per_seconds=60)
