"""Matching purchases to their buyers' visits and storing which touches get the credit.

Results are stored, not computed per request. Whenever a fact that could change a result arrives (an
identify, a hand-off, a checkout reach, a late visit, an erasure), the purchases it touches are attributed
again from every fact stored, so the result never depends on the order facts arrived in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.domain.attribution import MATCH_ORDER, RULES_VERSION, AttributionResult, attribute, lookback_from_days
from core.domain.checkout import (
    CHECKOUT_WINDOW,
    TIE,
    CheckoutReach,
    Tie,
    checkout_candidate,
    typed_at_checkout,
)
from core.domain.fingerprints import is_derived_visitor_key
from core.domain.identities import (
    EmailClaim,
    Handoff,
    IdentityGraph,
    IdentityTouch,
    Segment,
    identity_touches,
    shared_visitors,
)
from core.domain.purchases import MatchMethod, Purchase, UnmatchedReason
from core.ports.uow import UnitOfWork

# Stitching stops growing past this many visitor ids: a bigger "identity" is a shared inbox or a bug.
MAX_IDENTITY_VISITORS = 200
STRONG_METHODS = frozenset({MatchMethod.VISITOR_ID, MatchMethod.EMAIL, MatchMethod.RECIPIENT_EMAIL})


@dataclass(frozen=True, slots=True)
class _Closure:
    """Every visitor reachable from a start through shared emails and hand-offs, with their facts."""

    graph: IdentityGraph
    visitor_ids: frozenset[int]
    emails: frozenset[str]
    claims: tuple[EmailClaim, ...] = ()  # as given, each with its own email
    party: frozenset[str] = frozenset()

    def segments_with_email(self, email: str) -> list[Segment]:
        return self.graph.segments_with_email(_party_label(self.party) if email in self.party else email)


def _party(purchase: Purchase) -> frozenset[str]:
    """The emails a sale itself names (the buyer's and a gift's student's): one party for this sale."""
    return frozenset(e for e in (purchase.email, purchase.recipient_email) if e)


def _party_label(party: frozenset[str]) -> str:
    return min(party)


def _closure(
    uow: UnitOfWork,
    account_id: int,
    visitor_ids: Iterable[int] = (),
    emails: Iterable[str] = (),
    party: frozenset[str] = frozenset(),
) -> _Closure:
    """`party`: emails that count as one person here (a sale's buyer and its gift's student), so a browser
    that gave only those (the giver on the student's computer) is not cut in two, and keeps the visits
    before its first email (how the student found the course)."""
    seen_visitors: set[int] = set()
    seen_emails: set[str] = set()
    claims: dict[tuple[int, str, datetime], EmailClaim] = {}
    handoffs: dict[tuple[int, int, datetime], Handoff] = {}
    new_visitors, new_emails = set(visitor_ids), set(emails)
    while (new_visitors or new_emails) and len(seen_visitors) < MAX_IDENTITY_VISITORS:
        if new_emails:
            seen_emails |= new_emails
            for claim in uow.identities.claims_with_email(account_id, new_emails):
                claims[(claim.visitor_id, claim.email, claim.claimed_at)] = claim
                new_visitors.add(claim.visitor_id)
            new_emails = set()
        new_visitors -= seen_visitors
        if not new_visitors:
            continue
        seen_visitors |= new_visitors
        for claim in uow.identities.claims_of(new_visitors):
            claims[(claim.visitor_id, claim.email, claim.claimed_at)] = claim
            if claim.email not in seen_emails:
                new_emails.add(claim.email)
        found: set[int] = set()
        for handoff in uow.identities.handoffs_of(new_visitors):
            handoffs[(handoff.from_visitor_id, handoff.to_visitor_id, handoff.handed_at)] = handoff
            found |= {handoff.from_visitor_id, handoff.to_visitor_id}
        new_visitors = found - seen_visitors
    labelled = [
        EmailClaim(c.visitor_id, _party_label(party), c.claimed_at) if c.email in party else c for c in claims.values()
    ]
    # A browser that gave several emails is cut where each starts: at the session it was first given in.
    shared = shared_visitors(labelled) & seen_visitors
    touches = uow.sessions.touches_of(shared) if shared else {}
    starts = {v: [t.occurred_at for t in found] for v, found in touches.items()}
    graph = IdentityGraph(seen_visitors, labelled, handoffs.values(), starts)
    return _Closure(graph, frozenset(seen_visitors), frozenset(seen_emails), tuple(claims.values()), party)


def _journey(uow: UnitOfWork, identity: Collection[Segment]) -> list[IdentityTouch]:
    touches = uow.sessions.touches_of({s.visitor_id for s in identity})
    return identity_touches(identity, touches)


@dataclass(frozen=True, slots=True)
class _Found:
    anchor_visitor_id: int
    identity: list[Segment]


def _by_visitor_key(uow: UnitOfWork, purchase: Purchase) -> _Found | None:
    if not purchase.visitor_key:
        return None
    visitor = uow.visitors.with_key(purchase.account_id, purchase.visitor_key)
    if visitor is None or visitor.id is None:
        return None
    closure = _closure(uow, purchase.account_id, visitor_ids=[visitor.id], party=_party(purchase))
    segment = closure.graph.segment_at(visitor.id, purchase.purchased_at)
    return _Found(visitor.id, closure.graph.identity_of(segment)) if segment else None


def _people_named_by(uow: UnitOfWork, purchase: Purchase) -> list[Segment]:
    """The identities of the emails on the sale itself: the buyer's and the student's.

    The sale ties them to whichever browser it was matched to: a phone that signed up with the buyer's
    email is the buyer even if the paying laptop never gave it, and a gift's journey includes the visits
    of the student who found the course as well as those of the person who paid.
    """
    emails = [e for e in (purchase.email, purchase.recipient_email) if e]
    if not emails:
        return []
    closure = _closure(uow, purchase.account_id, emails=emails, party=_party(purchase))
    people: dict[Segment, None] = {}
    for email in emails:
        for segment in closure.segments_with_email(email):
            people.update(dict.fromkeys(closure.graph.identity_of(segment)))
    return list(people)


def _by_email(uow: UnitOfWork, purchase: Purchase, email: str | None) -> _Found | None:
    if not email:
        return None
    closure = _closure(uow, purchase.account_id, emails=[email], party=_party(purchase))
    # (only browsers that gave this very email: the sale's other email has its own rule)
    typers = {c.visitor_id for c in closure.claims if c.email == email}
    segments = [s for s in closure.segments_with_email(email) if s.visitor_id in typers]
    if not segments:
        return None
    at_checkout = _typed_at_checkout(uow, purchase, closure, email)
    if at_checkout is not None:
        return at_checkout
    identity = closure.graph.identity_of(segments[0])
    # The browser that took up the email last before the purchase is the one that bought.
    started = [s for s in segments if s.starts is None or s.starts <= purchase.purchased_at] or segments
    anchor = max(started, key=lambda s: (s.starts or datetime.min.replace(tzinfo=UTC), -s.visitor_id))
    return _Found(anchor.visitor_id, identity)


def _typed_at_checkout(uow: UnitOfWork, purchase: Purchase, closure: _Closure, email: str) -> _Found | None:
    """The browser that typed the sale's email at checkout just before it is the buyer's, even when it gave
    another email earlier (a giver on the student's computer): its person with that email, and the visit in
    which it typed it (the visit that bought), which an earlier email's run may otherwise own."""
    typers = {c.visitor_id for c in closure.claims if c.email == email}
    claim = typed_at_checkout(closure.claims, uow.identities.checkout_reaches_of(typers), email, purchase.purchased_at)
    if claim is None:
        return None
    segment = closure.graph.segment_at(claim.visitor_id, claim.claimed_at)
    identity = closure.graph.identity_of(segment) if segment is not None else []
    touches = uow.sessions.touches_of({claim.visitor_id}).get(claim.visitor_id, [])
    visit = max((t.occurred_at for t in touches if t.occurred_at <= claim.claimed_at), default=None)
    if visit is not None:
        after = purchase.purchased_at + timedelta(microseconds=1)
        identity = [*identity, Segment(claim.visitor_id, visit, after, email)]
    return _Found(claim.visitor_id, identity)


def _by_fingerprint(uow: UnitOfWork, purchase: Purchase) -> _Found | Tie | None:
    since = purchase.purchased_at - CHECKOUT_WINDOW
    explained = uow.purchases.strongly_matched_visitors(
        purchase.account_id, since, purchase.purchased_at + CHECKOUT_WINDOW, excluding=purchase.id
    )
    reaches = [
        r
        for r in uow.identities.checkout_reaches(purchase.account_id, since, purchase.purchased_at)
        if r.visitor_id not in explained
    ]
    candidate = checkout_candidate(reaches, purchase.purchased_at)
    if not isinstance(candidate, list):
        return candidate
    return _identity_of_reaches(uow, purchase, candidate)


def _identity_of_reaches(uow: UnitOfWork, purchase: Purchase, reaches: list[CheckoutReach]) -> _Found | Tie:
    """The person behind the one fingerprint that reached checkout, or None when it is several people.

    Only the browser that reached checkout counts, with what its ids are stitched to: a fingerprint never
    reaches back to other visitor ids. Several ids reaching checkout with one fingerprint are one browser
    only when a hand-off or an email joins them (the site handing its visitor to a checkout on another of
    the creator's domains); otherwise they are people behind one office or household address: a tie.
    """
    visitor_ids = sorted({r.visitor_id for r in reaches})
    closure = _closure(uow, purchase.account_id, visitor_ids=visitor_ids, party=_party(purchase))
    identities = []
    for visitor_id in visitor_ids:
        segment = closure.graph.segment_at(visitor_id, purchase.purchased_at)
        identities.append(closure.graph.identity_of(segment) if segment is not None else [])
    if len({frozenset(identity) for identity in identities}) > 1:
        return TIE
    return _Found(reaches[-1].visitor_id, identities[0])


def _find(uow: UnitOfWork, purchase: Purchase, method: MatchMethod) -> _Found | Tie | None:
    if method is MatchMethod.VISITOR_ID:
        return _by_visitor_key(uow, purchase)
    if method is MatchMethod.EMAIL:
        return _by_email(uow, purchase, purchase.email)
    if method is MatchMethod.RECIPIENT_EMAIL:
        if purchase.recipient_email == purchase.email:
            return None
        return _by_email(uow, purchase, purchase.recipient_email)
    return _by_fingerprint(uow, purchase)


def attribute_purchase(uow: UnitOfWork, purchase: Purchase, *, cascade: bool = True) -> None:
    """Match one stored purchase and replace its credits and journey, inside the caller's transaction.

    The rules are tried strongest first; the first that finds a buyer with a visit inside the lookback
    window wins. A purchase no rule explains stays unmatched: its revenue is shown as such.
    """
    assert purchase.id is not None
    if purchase.is_erased:
        # Its buyer was erased on request: no rule may pin the sale on anyone again (a timing match would
        # guess at a stranger), so it keeps no credits and no journey.
        purchase.rules_version = RULES_VERSION
        uow.purchases.update(purchase)
        uow.purchases.replace_credits(purchase.id, [])
        uow.purchases.replace_history(purchase.id, [])
        return
    lookback = uow.attribution_settings.lookback(purchase.account_id)
    was_strong = purchase.match_method in STRONG_METHODS
    result: AttributionResult | None = None
    known_buyer = tie = False
    for method in MATCH_ORDER:
        found = _find(uow, purchase, method)
        if found is None or isinstance(found, Tie):
            tie |= found is not None
            continue
        result = attribute(_journey(uow, found.identity), purchase.purchased_at, lookback)
        if result is not None and method is not MatchMethod.FINGERPRINT:
            # The rule found the buyer by its own evidence; the sale's emails complete the journey.
            identity = dict.fromkeys([*found.identity, *_people_named_by(uow, purchase)])
            result = attribute(_journey(uow, list(identity)), purchase.purchased_at, lookback)
        if result is not None:
            anchor = uow.visitors.get(found.anchor_visitor_id)
            purchase.match(
                found.anchor_visitor_id,
                method,
                derived_visitor=anchor is not None and is_derived_visitor_key(anchor.key),
            )
            break
        known_buyer = True
    if result is None:
        purchase.unmatch(_unmatched_reason(purchase, known_buyer=known_buyer, tie=tie))
    purchase.rules_version = RULES_VERSION
    uow.purchases.update(purchase)
    uow.purchases.replace_credits(purchase.id, list(result.credits) if result else [])
    uow.purchases.replace_history(purchase.id, list(result.history) if result else [])
    if cascade and (was_strong or purchase.match_method in STRONG_METHODS):
        # A purchase explained by id or email explains its buyer's checkout visit, which may settle (or
        # unsettle) a neighbour that was matched by timing.
        _attribute_timing_neighbours(uow, purchase)


def _unmatched_reason(purchase: Purchase, *, known_buyer: bool, tie: bool) -> UnmatchedReason:
    """The real reason no rule matched: the buyer was found without a visit in the window, or several
    browsers reached checkout, or the sale names no one, or no one it names was ever seen."""
    if known_buyer:
        return UnmatchedReason.NO_VISIT_IN_WINDOW
    if tie:
        return UnmatchedReason.TIE
    if not (purchase.email or purchase.recipient_email or purchase.visitor_key):
        return UnmatchedReason.NO_BUYER
    return UnmatchedReason.NOT_SEEN


def _attribute_timing_neighbours(uow: UnitOfWork, purchase: Purchase) -> None:
    window = CHECKOUT_WINDOW * 2
    for neighbour in uow.purchases.purchased_between(
        purchase.account_id, purchase.purchased_at - window, purchase.purchased_at + window
    ):
        if neighbour.id != purchase.id and neighbour.match_method not in STRONG_METHODS:
            attribute_purchase(uow, neighbour, cascade=False)


def purchases_affected_by_visitor(uow: UnitOfWork, account_id: int, visitor_id: int) -> list[Purchase]:
    """Every purchase whose result a fact about this visitor (or anyone stitched to it) can change."""
    closure = _closure(uow, account_id, visitor_ids=[visitor_id])
    keys = set(uow.visitors.keys(closure.visitor_ids).values())
    found = {
        p.id: p
        for p in uow.purchases.involving(account_id, visitor_ids=closure.visitor_ids, keys=keys, emails=closure.emails)
    }
    for reach in uow.identities.checkout_reaches_of(closure.visitor_ids):
        for purchase in uow.purchases.purchased_between(
            account_id, reach.reached_at, reach.reached_at + CHECKOUT_WINDOW
        ):
            found.setdefault(purchase.id, purchase)
    return sorted(found.values(), key=lambda p: (p.purchased_at, p.id or 0))


class Attribution:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    def reattribute_visitor(self, account_id: int, visitor_id: int) -> int:
        """A fact about a visitor arrived: attribute again every purchase it can change. Returns how many."""
        with self._uow() as uow:
            # After the pipeline's and the purchases' writers (see store_records): a result is worked out
            # from everything committed before it, never overwritten by one worked out from less.
            uow.inbound_events.lock_account(account_id)
            purchases = purchases_affected_by_visitor(uow, account_id, visitor_id)
            for purchase in purchases:
                attribute_purchase(uow, purchase)
            uow.commit()
        return len(purchases)

    def forget_visitor(self, account_id: int, visitor_key: str) -> int:
        """Erase a visitor (a GDPR request) and attribute again what it was part of. Returns how many."""
        with self._uow() as uow:
            uow.inbound_events.lock_account(account_id)  # after the writers of its visits and purchases
            visitor = uow.visitors.with_key(account_id, visitor_key)
            if visitor is None or visitor.id is None:
                return 0
            purchases = purchases_affected_by_visitor(uow, account_id, visitor.id)
            uow.visitors.delete(visitor.id)
            for purchase in purchases:
                fresh = uow.purchases.get(purchase.id or 0)
                if fresh is not None:
                    attribute_purchase(uow, fresh)
            uow.commit()
        return len(purchases)

    def set_lookback(self, account_id: int, days: int) -> None:
        """Change the account's lookback window and attribute its purchases again under it."""
        lookback = lookback_from_days(days)
        with self._uow() as uow:
            uow.attribution_settings.set_lookback(account_id, lookback)
            uow.commit()
        self.reattribute_all(account_id, force=True)

    def reattribute_all(self, account_id: int | None = None, *, force: bool = False, batch: int = 200) -> int:
        """Attribute again every purchase attributed under older rules (or all of them with force).

        Works in batches, one transaction each, so a long history never holds one huge transaction.
        """
        with self._uow() as uow:
            ids = list(uow.purchases.ids_attributed_before(RULES_VERSION + 1 if force else RULES_VERSION, account_id))
        for start in range(0, len(ids), batch):
            with self._uow() as uow:
                purchases = [p for p in map(uow.purchases.get, ids[start : start + batch]) if p is not None]
                # The ingestion lock of every account in the batch, in one order (no two batches deadlock),
                # then each purchase read again: a result worked out from all that was committed before it.
                for owner in sorted({purchase.account_id for purchase in purchases}):
                    uow.inbound_events.lock_account(owner)
                for purchase in purchases:
                    fresh = uow.purchases.get(purchase.id or 0)
                    if fresh is not None:
                        attribute_purchase(uow, fresh)
                uow.commit()
        return len(ids)
