"""Visitors, their sessions and the touches that brought them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.touches import Touch

SESSION_IDLE_TIMEOUT = timedelta(minutes=30)

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_VISITOR_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def normalize_email(raw: str | None) -> str | None:
    """Trimmed and lower-cased, or None when it is not an email address."""
    if raw is None:
        return None
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        return None
    return email


def is_valid_visitor_key(key: str) -> bool:
    return bool(_VISITOR_KEY.match(key))


@dataclass(slots=True)
class Session:
    """A run of page views with no gap longer than the idle timeout and one campaign."""

    visitor_id: int
    touch: Touch
    started_at: datetime
    last_seen_at: datetime
    id: int | None = None

    def continues_with(self, touch: Touch) -> bool:
        """Whether a page view with `touch` belongs to this session rather than starting a new one."""
        if touch.occurred_at - self.last_seen_at > SESSION_IDLE_TIMEOUT:
            return False
        # Navigation inside the site carries no source of its own; a new campaign starts a new session.
        return touch.is_direct or touch.campaign_key == self.touch.campaign_key


@dataclass(slots=True)
class Visitor:
    """A browser known by the id the tracker keeps for it (cookie + localStorage)."""

    site_id: int
    key: str
    first_seen_at: datetime
    email: str | None = None
    first_touch: Touch | None = None
    last_touch: Touch | None = None  # the last non-direct touch; Direct only when there was nothing else
    id: int | None = None

    def record_touch(self, touch: Touch) -> None:
        if self.first_touch is None or touch.occurred_at < self.first_touch.occurred_at:
            self.first_touch = touch
        if self.last_touch is None or (
            not touch.is_direct and (self.last_touch.is_direct or touch.occurred_at >= self.last_touch.occurred_at)
        ):
            self.last_touch = touch

    def identify(self, email: str) -> None:
        self.email = email
