"""Properties of attribution that must hold for any traffic, checked on generated worlds.

Ingestion order: a browser sends its own events in order, but browsers, identifies and the platform's
purchases interleave in any order, and anything may arrive twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.domain.attribution import Model
from core.domain.events import EventKind
from core.domain.purchases import AttributionStatus
from tests.unit.attribution_world import AttributionWorld

SOURCES = ("youtube", "ig", "google", "newsletter", None)  # None: a direct visit
EMAILS = ("ann@example.com", "bob@example.com", "cat@example.com")
FINGERPRINTS = ("fp-1", "fp-2", None)
CHECKOUT = "https://example.com/offers/launch/checkout"


@dataclass(frozen=True)
class Event:
    visitor: int
    minute: int
    kind: str  # "visit", "identify", "checkout"
    value: str | None
    fingerprint: str | None


@dataclass(frozen=True)
class Sale:
    pid: str
    minute: int
    email: str | None
    carried: int | None
    recipient: str | None
    cents: int
    refund: int


event = st.builds(
    Event,
    visitor=st.integers(0, 3),
    minute=st.integers(0, 60 * 24 * 3),
    kind=st.sampled_from(("visit", "visit", "identify", "checkout")),
    value=st.sampled_from(SOURCES + EMAILS),
    fingerprint=st.sampled_from(FINGERPRINTS),
)
sale = st.builds(
    Sale,
    pid=st.sampled_from(("p1", "p2", "p3")),
    minute=st.integers(0, 60 * 24 * 3 + 60),
    email=st.sampled_from((*EMAILS, None)),
    carried=st.sampled_from((None, None, 0, 1, 2)),
    recipient=st.sampled_from((None, None, *EMAILS)),
    cents=st.integers(100, 50000),
    refund=st.integers(0, 100),
)
worlds = st.tuples(
    st.lists(event, min_size=1, max_size=14), st.lists(sale, min_size=1, max_size=3, unique_by=lambda s: s.pid)
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _key(visitor: int) -> str:
    return f"visitor{visitor:02d}"


def _event_id(index: int) -> str:
    return f"event{index:06d}"


def _play(world: AttributionWorld, items: list[tuple[str, int, Event | Sale]]) -> None:
    start = world.clock.now()
    for _kind, index, item in items:
        if isinstance(item, Sale):
            at = start + timedelta(minutes=item.minute)
            world.clock._now = at
            world.buy(
                item.pid,
                email=item.email,
                cents=item.cents,
                at=at,
                visitor_key=_key(item.carried) if item.carried is not None else None,
                recipient_email=item.recipient,
            )
            if item.refund:
                world.refund(item.pid, item.cents * item.refund // 100, refund_id=f"r-{item.pid}")
            continue
        at = start + timedelta(minutes=item.minute)
        key = _key(item.visitor)
        event_id = _event_id(index)
        if item.kind == "identify" and item.value in EMAILS:
            world.send(EventKind.IDENTIFY, key, email=item.value, at=at, event_id=event_id)
        elif item.kind == "checkout":
            world.send(EventKind.PAGEVIEW, key, CHECKOUT, at=at, fingerprint=item.fingerprint, event_id=event_id)
        else:
            source = item.value if item.value in SOURCES else None
            url = f"https://example.com/?utm_source={source}" if source else "https://example.com/"
            world.send(EventKind.PAGEVIEW, key, url, at=at, fingerprint=item.fingerprint, event_id=event_id)


def _timeline(events: list[Event], sales: list[Sale]) -> list[tuple[str, int, Event | Sale]]:
    items: list[tuple[str, int, Event | Sale]] = [("event", i, e) for i, e in enumerate(events)]
    items += [("sale", i, s) for i, s in enumerate(sales)]
    return sorted(items, key=lambda item: (item[2].minute, item[0], item[1]))


def _shuffled(timeline: list[tuple[str, int, Event | Sale]], seed: int) -> list[tuple[str, int, Event | Sale]]:
    """Any interleaving that keeps each browser's own events in order, with some items sent twice."""
    rng = random.Random(seed)
    queues: dict[object, list[tuple[str, int, Event | Sale]]] = {}
    for item in timeline:
        lane = ("visitor", item[2].visitor) if isinstance(item[2], Event) else ("sale", item[2].pid)
        queues.setdefault(lane, []).append(item)
    lanes = sorted(queues, key=str)
    result = []
    while lanes:
        lane = rng.choice(lanes)
        item = queues[lane].pop(0)
        result.append(item)
        if rng.random() < 0.2:
            result.append(item)  # a retried beacon or a webhook delivered twice
        if not queues[lane]:
            lanes.remove(lane)
    return result


def _outcome(world: AttributionWorld, sales: list[Sale]) -> dict[str, tuple[object, ...]]:
    found = {}
    for s in sales:
        purchase = world.purchase(s.pid)
        credits = sorted(
            (c.model.value, c.touch.source, c.touch.occurred_at) for c in world.store.credits.get(purchase.id or 0, [])
        )
        found[s.pid] = (purchase.status, purchase.match_method, tuple(credits))
    return found


@SETTINGS
@given(worlds, st.integers(0, 2**16))
def test_ingestion_order_and_duplicates_never_change_the_result(world_spec, seed: int) -> None:  # type: ignore[no-untyped-def]
    events, sales = world_spec
    in_order, shuffled = AttributionWorld(), AttributionWorld()
    _play(in_order, _timeline(events, sales))
    _play(shuffled, _shuffled(_timeline(events, sales), seed))
    assert _outcome(shuffled, sales) == _outcome(in_order, sales)


@SETTINGS
@given(worlds)
def test_no_touch_after_the_purchase_is_credited_and_every_match_has_both_models(world_spec) -> None:  # type: ignore[no-untyped-def]
    events, sales = world_spec
    world = AttributionWorld()
    _play(world, _timeline(events, sales))
    for s in sales:
        purchase = world.purchase(s.pid)
        credits = world.store.credits.get(purchase.id or 0, [])
        history = world.store.histories.get(purchase.id or 0, [])
        assert all(c.touch.occurred_at <= purchase.purchased_at for c in credits)
        assert all(h.touch.occurred_at <= purchase.purchased_at for h in history)
        if purchase.status is AttributionStatus.MATCHED:
            assert {c.model for c in credits} == set(Model)
        else:
            assert credits == []


@SETTINGS
@given(worlds, st.sampled_from(("7d", "30d", "all")))
def test_credited_plus_unmatched_revenue_is_the_net_revenue(world_spec, window: str) -> None:  # type: ignore[no-untyped-def]
    events, sales = world_spec
    world = AttributionWorld()
    _play(world, _timeline(events, sales))
    now = world.clock.now()
    since = {"7d": now - timedelta(days=7), "30d": now - timedelta(days=30), "all": None}[window]
    refunds: dict[int, int] = {}
    for (purchase_id, _), refund in world.store.refunds.items():
        refunds[purchase_id] = refunds.get(purchase_id, 0) + refund.amount.amount
    in_range = [p for p in world.store.purchases.values() if since is None or p.purchased_at >= since]
    net = {p.id: p.amount.amount - refunds.get(p.id or 0, 0) for p in in_range}
    unmatched = sum(net[p.id] for p in in_range if p.status is AttributionStatus.UNMATCHED)
    for model in Model:
        credited = sum(
            net[p.id]
            for p in in_range
            for c in world.store.credits.get(p.id or 0, [])
            if c.model is model and p.status is AttributionStatus.MATCHED
        )
        assert credited + unmatched == sum(net.values())


@SETTINGS
@given(worlds, st.lists(st.tuples(st.integers(0, 3), st.sampled_from(SOURCES)), min_size=1, max_size=5))
def test_first_touch_never_changes_when_later_touches_arrive(world_spec, later) -> None:  # type: ignore[no-untyped-def]
    events, sales = world_spec
    world = AttributionWorld()
    _play(world, _timeline(events, sales))

    def first_touches() -> dict[str, object]:
        found = {}
        for s in sales:
            purchase = world.purchase(s.pid)
            credits = {c.model: c.touch for c in world.store.credits.get(purchase.id or 0, [])}
            found[s.pid] = credits.get(Model.FIRST_TOUCH)
        return found

    before = first_touches()
    start = world.clock.now()
    for offset, (visitor, source) in enumerate(later):
        url = f"https://example.com/?utm_source={source}" if source else "https://example.com/"
        world.send(EventKind.PAGEVIEW, _key(visitor), url, at=start + timedelta(days=5, hours=offset))
    assert first_touches() == before


@SETTINGS
@given(worlds, st.integers(0, 3))
def test_erasing_a_visitor_removes_it_from_every_identity(world_spec, erased: int) -> None:  # type: ignore[no-untyped-def]
    events, sales = world_spec
    world = AttributionWorld()
    _play(world, _timeline(events, sales))
    key = _key(erased)
    visitor_id = next((v.id for v in world.store.visitors.values() if v.key == key), None)
    world.attribution.forget_visitor(world.account_id, key)
    if visitor_id is None:
        return
    assert visitor_id not in world.store.visitors
    assert all(c.visitor_id != visitor_id for _, c in world.store.claims.values())
    assert all(visitor_id not in (h.from_visitor_id, h.to_visitor_id) for _, h in world.store.handoffs.values())
    for history in world.store.histories.values():
        assert all(h.visitor_id != visitor_id for h in history)
    assert all(p.visitor_id != visitor_id for p in world.store.purchases.values())
