"""Identity stitching: which browsers (visitor ids), over which stretches of time, are one person.

Facts, never conclusions, are stored: an email claimed by a visitor at a moment (an identify), and a
hand-off of one visitor id to another across the creator's domains. The identity is computed from those
facts each time it is needed, so it does not depend on the order they arrived in, grows as facts arrive,
and shrinks again when a visitor is erased (its facts go with it).

A shared computer keeps one visitor id for several people. An identify with an email different from the
visitor's current one starts a new person from that moment: the visitor's history is cut into segments,
one per run of the same email, and identities join segments, not whole visitors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from core.domain.touches import Touch

# The tracker appends `_csv=<visitor id>.<unix seconds>` to links between the creator's domains; a
# hand-off older than this is a shared or bookmarked link, not the same person clicking through.
HANDOFF_PARAM = "_csv"
HANDOFF_MAX_AGE = timedelta(seconds=180)


@dataclass(frozen=True, slots=True)
class EmailClaim:
    """A visitor said who they are (an identify) at a moment."""

    visitor_id: int
    email: str
    claimed_at: datetime


@dataclass(frozen=True, slots=True)
class Handoff:
    """One visitor id handed to another across the creator's domains, at a moment."""

    from_visitor_id: int
    to_visitor_id: int
    handed_at: datetime


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of one visitor's history belonging to one person: [starts, ends), None is unbounded."""

    visitor_id: int
    starts: datetime | None
    ends: datetime | None
    email: str | None

    def covers(self, moment: datetime) -> bool:
        return (self.starts is None or self.starts <= moment) and (self.ends is None or moment < self.ends)


@dataclass(frozen=True, slots=True)
class IdentityTouch:
    visitor_id: int
    touch: Touch


def segments_of(visitor_id: int, claims: Iterable[EmailClaim]) -> list[Segment]:
    """Cut a visitor's history where it identified with a new email.

    The first email also owns the anonymous time before it (the visits that led to the sign-up).
    """
    ordered = sorted((c for c in claims if c.visitor_id == visitor_id), key=lambda c: (c.claimed_at, c.email))
    runs: list[tuple[datetime | None, str | None]] = []
    for claim in ordered:
        if not runs:
            runs.append((None, claim.email))
        elif runs[-1][1] != claim.email:
            runs.append((claim.claimed_at, claim.email))
    if not runs:
        return [Segment(visitor_id, None, None, None)]
    return [
        Segment(visitor_id, starts, runs[index + 1][0] if index + 1 < len(runs) else None, email)
        for index, (starts, email) in enumerate(runs)
    ]


def segment_at(segments: Iterable[Segment], visitor_id: int, moment: datetime) -> Segment | None:
    return next((s for s in segments if s.visitor_id == visitor_id and s.covers(moment)), None)


class IdentityGraph:
    """Segments joined when they share an email or a hand-off links them."""

    def __init__(self, visitor_ids: Iterable[int], claims: Iterable[EmailClaim], handoffs: Iterable[Handoff]) -> None:
        claims = list(claims)
        self.segments: list[Segment] = [s for v in sorted(set(visitor_ids)) for s in segments_of(v, claims)]
        self._parent = {s: s for s in self.segments}
        by_email: dict[str, Segment] = {}
        for segment in self.segments:
            if segment.email is not None:
                self._union(by_email.setdefault(segment.email, segment), segment)
        for handoff in handoffs:
            one = segment_at(self.segments, handoff.from_visitor_id, handoff.handed_at)
            other = segment_at(self.segments, handoff.to_visitor_id, handoff.handed_at)
            if one is not None and other is not None:
                self._union(one, other)

    def _root(self, segment: Segment) -> Segment:
        while self._parent[segment] != segment:
            self._parent[segment] = self._parent[self._parent[segment]]
            segment = self._parent[segment]
        return segment

    def _union(self, one: Segment, other: Segment) -> None:
        a, b = self._root(one), self._root(other)
        if a != b:
            # Deterministic roots keep the result independent of the order facts were added in.
            low, high = sorted((a, b), key=_segment_order)
            self._parent[high] = low

    def identity_of(self, segment: Segment) -> list[Segment]:
        root = self._root(segment)
        return sorted((s for s in self.segments if self._root(s) == root), key=_segment_order)

    def segment_at(self, visitor_id: int, moment: datetime) -> Segment | None:
        return segment_at(self.segments, visitor_id, moment)

    def segments_with_email(self, email: str) -> list[Segment]:
        return [s for s in self.segments if s.email == email]


def _segment_order(segment: Segment) -> tuple[int, float]:
    return (segment.visitor_id, segment.starts.timestamp() if segment.starts else float("-inf"))


def identity_touches(identity: Iterable[Segment], touches_by_visitor: dict[int, list[Touch]]) -> list[IdentityTouch]:
    """Every touch of an identity: each visitor's touches inside that visitor's segments, in time order."""
    found = [
        IdentityTouch(segment.visitor_id, touch)
        for segment in identity
        for touch in touches_by_visitor.get(segment.visitor_id, ())
        if segment.covers(touch.occurred_at)
    ]
    return sorted(found, key=lambda t: (t.touch.occurred_at, t.visitor_id))


def handoff_from_url(url: str, received_at: datetime) -> str | None:
    """The visitor id another of the creator's domains handed over in the landing URL, if fresh."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    value = dict(parse_qsl(query)).get(HANDOFF_PARAM)
    if not value or "." not in value:
        return None
    key, _, stamp = value.rpartition(".")
    try:
        handed_at = datetime.fromtimestamp(int(stamp), tz=received_at.tzinfo)
    except (ValueError, OverflowError, OSError):
        return None
    if not timedelta(seconds=-30) <= received_at - handed_at <= HANDOFF_MAX_AGE:
        return None
    return key or None
