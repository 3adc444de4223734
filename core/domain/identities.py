"""Identity stitching: which browsers (visitor ids), over which stretches of time, are one person.

Facts, never conclusions, are stored: an email claimed by a visitor at a moment (an identify), and a
hand-off of one visitor id to another across the creator's domains. The identity is computed from those
facts each time it is needed, so it does not depend on the order they arrived in, grows as facts arrive,
and shrinks again when a visitor is erased (its facts go with it).

A shared computer keeps one visitor id for several people. An identify with an email different from the
visitor's current one starts a new person with the visit (session) it was given in: the visitor's history
is cut into segments, one per run of the same email, and identities join segments, not whole visitors.
On such a browser the anonymous visits before the first email could be anyone's, so they belong to nobody
(a browser that only ever gave one email keeps them: they are the visits that led to the sign-up). And
two different emails are never joined into one person by a hand-off: that would merge two buyers.
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


@dataclass(slots=True)
class _Run:
    email: str
    first: datetime
    last: datetime


def segments_of(
    visitor_id: int, claims: Iterable[EmailClaim], session_starts: Iterable[datetime] = ()
) -> list[Segment]:
    """Cut a visitor's history where it identified with a new email.

    A browser that gave one email is one person: the email owns the anonymous visits before it too (the
    visits that led to the sign-up). A browser that gave several is shared: each email's run starts with the
    session it was first given in (`session_starts`: when the visitor's sessions began), unless that session
    also holds the previous email's last identify (then at the identify itself); the visits before the
    first run belong to nobody.
    """
    ordered = sorted((c for c in claims if c.visitor_id == visitor_id), key=lambda c: (c.claimed_at, c.email))
    runs: list[_Run] = []
    for claim in ordered:
        if runs and runs[-1].email == claim.email:
            runs[-1].last = claim.claimed_at
        else:
            runs.append(_Run(claim.email, claim.claimed_at, claim.claimed_at))
    if not runs:
        return [Segment(visitor_id, None, None, None)]
    if len({run.email for run in runs}) == 1:
        return [Segment(visitor_id, None, None, runs[0].email)]
    starts = sorted(session_starts)
    cuts: list[datetime] = []
    for index, run in enumerate(runs):
        session = next((moment for moment in reversed(starts) if moment <= run.first), None)
        previous = runs[index - 1].last if index else None
        if session is None or (previous is not None and session <= previous):
            session = run.first
        cuts.append(session)
    segments = [Segment(visitor_id, None, cuts[0], None)]
    segments += [
        Segment(visitor_id, cut, cuts[index + 1] if index + 1 < len(cuts) else None, run.email)
        for index, (cut, run) in enumerate(zip(cuts, runs, strict=True))
    ]
    return segments


def shared_visitors(claims: Iterable[EmailClaim]) -> set[int]:
    """The visitors that gave more than one email: their segments depend on when their sessions began."""
    emails: dict[int, set[str]] = {}
    for claim in claims:
        emails.setdefault(claim.visitor_id, set()).add(claim.email)
    return {visitor_id for visitor_id, found in emails.items() if len(found) > 1}


def segment_at(segments: Iterable[Segment], visitor_id: int, moment: datetime) -> Segment | None:
    return next((s for s in segments if s.visitor_id == visitor_id and s.covers(moment)), None)


class IdentityGraph:
    """Segments joined when they share an email or a hand-off links them.

    A hand-off never joins two people who gave different emails (a shared computer handed to another of
    the creator's domains): each identity carries at most one email. Hand-offs are applied in time order,
    so which one is refused depends only on the facts, never on the order they arrived in.
    """

    def __init__(
        self,
        visitor_ids: Iterable[int],
        claims: Iterable[EmailClaim],
        handoffs: Iterable[Handoff],
        session_starts: dict[int, list[datetime]] | None = None,
    ) -> None:
        claims = list(claims)
        starts = session_starts or {}
        self.segments: list[Segment] = [
            s for v in sorted(set(visitor_ids)) for s in segments_of(v, claims, starts.get(v, ()))
        ]
        self._parent = {s: s for s in self.segments}
        self._email = {s: s.email for s in self.segments}
        by_email: dict[str, Segment] = {}
        for segment in self.segments:
            if segment.email is not None:
                self._union(by_email.setdefault(segment.email, segment), segment)
        for handoff in sorted(handoffs, key=lambda h: (h.handed_at, h.from_visitor_id, h.to_visitor_id)):
            one = segment_at(self.segments, handoff.from_visitor_id, handoff.handed_at)
            other = segment_at(self.segments, handoff.to_visitor_id, handoff.handed_at)
            if one is None or other is None:
                continue
            emails = {self._email[self._root(one)], self._email[self._root(other)]} - {None}
            if len(emails) <= 1:
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
            self._email[low] = self._email[low] or self._email[high]

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
    found = dict.fromkeys(  # (segments of one visitor may overlap: each touch once)
        IdentityTouch(segment.visitor_id, touch)
        for segment in identity
        for touch in touches_by_visitor.get(segment.visitor_id, ())
        if segment.covers(touch.occurred_at)
    )
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
