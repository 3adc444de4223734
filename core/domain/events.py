"""What the tracker sends, once validated at the edge, and why ingestion may drop it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EventKind(StrEnum):
    PAGEVIEW = "pageview"
    IDENTIFY = "identify"


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
