"""What the services stored, compared with the truth: match rate, first- and last-touch accuracy, false
matches, revenue by source, and the report `coursesignal simulate` prints.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.simulator.traffic import Hit, Traffic
from core.domain.attribution import Model
from core.domain.identities import handoff_from_url
from core.domain.money import Money
from core.domain.purchases import AttributionStatus, MatchMethod, PurchaseRecord
from core.ports.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class SourceRevenue:
    source: str
    true_revenue: int
    credited_revenue: int

    @property
    def error(self) -> int:
        return self.credited_revenue - self.true_revenue


@dataclass(frozen=True, slots=True)
class Score:
    scenario: str
    purchases: int
    matched: int
    by_method: dict[str, int]
    first_touch_right: int
    last_touch_right: int
    false_matches: int
    revenue: tuple[SourceRevenue, ...]
    unmatched_revenue: int
    hits: int
    misses: dict[str, int] = field(default_factory=dict)  # unmatched / first touch wrong, by trait
    # Matched purchases whose true first visit a recorded signal ties to the buyer, and how many of those
    # are credited the true first-touch source: the share the rules can be asked to get right.
    knowable: int = 0
    knowable_first_right: int = 0

    @property
    def match_rate(self) -> float:
        return self.matched / self.purchases if self.purchases else 0.0

    @property
    def first_touch_accuracy(self) -> float:
        return self.first_touch_right / self.matched if self.matched else 0.0

    @property
    def knowable_first_touch_accuracy(self) -> float:
        return self.knowable_first_right / self.knowable if self.knowable else 0.0

    @property
    def last_touch_accuracy(self) -> float:
        return self.last_touch_right / self.matched if self.matched else 0.0

    @property
    def false_match_rate(self) -> float:
        return self.false_matches / self.matched if self.matched else 0.0


def score(traffic: Traffic, uow: Callable[[], UnitOfWork], account_id: int, hits: int) -> Score:
    """Compare what the services stored with the truth."""
    by_method: Counter[str] = Counter()
    misses: Counter[str] = Counter()
    matched = first_right = last_right = false = unmatched_revenue = 0
    true_revenue: Counter[str] = Counter()
    credited_revenue: Counter[str] = Counter()
    knowable = knowable_tied(traffic)
    knowable_matched = knowable_right = 0
    with uow() as work:
        for truth in traffic.truths.values():
            net = truth.amount - truth.refunded
            true_revenue[truth.first_source] += net
            purchase = work.purchases.get_by_platform_id(account_id, truth.purchase_id.split("-")[0], truth.purchase_id)
            assert purchase is not None
            assert purchase.id is not None
            if purchase.status is not AttributionStatus.MATCHED:
                unmatched_revenue += net
                misses.update(f"unmatched:{t}" for t in truth.traits)
                continue
            matched += 1
            assert purchase.match_method is not None
            by_method[purchase.match_method.value] += 1
            credits = {c.model: c.touch for c in work.purchases.credits(purchase.id)}
            first, last = credits[Model.FIRST_TOUCH], credits[Model.LAST_TOUCH]
            first_right += first.source == truth.first_source
            if truth.purchase_id in knowable:
                knowable_matched += 1
                knowable_right += first.source == truth.first_source
            if first.source != truth.first_source:
                misses.update(f"first_touch_wrong:{t}" for t in truth.traits)
            last_right += last.source == truth.last_source
            credited_revenue[first.source] += net
            history = work.purchases.history(purchase.id)
            keys = work.visitors.keys({h.visitor_id for h in history} | {purchase.visitor_id or 0})
            people = {truth.journey_person, truth.payer}
            anchor_owners = traffic.visitor_owners.get(keys.get(purchase.visitor_id or 0, ""), set())
            # False: the buyer's browser is someone else's, or either credited visit was someone else's.
            credited_owners = {
                traffic.hit_owner.get((keys.get(h.visitor_id, ""), h.touch.occurred_at))
                for h in history
                if h.touch in (first, last)
            }
            false += not (anchor_owners & people) or bool(credited_owners - people - {None})
    sources = sorted(set(true_revenue) | set(credited_revenue))
    revenue = tuple(SourceRevenue(s, true_revenue[s], credited_revenue[s]) for s in sources)
    return Score(
        scenario=traffic.scenario.name,
        purchases=len(traffic.truths),
        matched=matched,
        by_method={m.value: by_method[m.value] for m in MatchMethod if by_method[m.value]},
        first_touch_right=first_right,
        last_touch_right=last_right,
        false_matches=false,
        revenue=revenue,
        unmatched_revenue=unmatched_revenue,
        hits=hits,
        misses=dict(sorted(misses.items())),
        knowable=knowable_matched,
        knowable_first_right=knowable_right,
    )


def knowable_tied(traffic: Traffic) -> set[str]:
    """The purchases whose true first visit a recorded signal ties to the buyer.

    Signals, as the tracker and the platforms record them: browsers that gave the same email are one person,
    and so are two ids handed across the creator's domains. A first visit is within reach when its browser is
    joined that way to the sale: to a browser that gave one of the sale's emails (the buyer's or the
    recipient's), carried its id into the sale, or made the visit that bought. What is left is out of any
    rule's reach: a phone that never gave an email, an id Safari or the buyer deleted, a gift payer's
    browser. A family computer that gave two emails joins both people here, so this errs towards "within reach".
    """
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        root = node
        while parent.get(root, root) != root:
            root = parent[root]
        while node != root:
            parent[node], node = root, parent[node]
        return root

    def join(one: str, other: str) -> None:
        parent[find(one)] = find(other)

    records: dict[str, PurchaseRecord] = {}
    for _, _, item in traffic.timeline:
        if isinstance(item, PurchaseRecord):
            records[item.platform_purchase_id] = item
            continue
        if not isinstance(item, Hit):
            continue
        key = traffic.event_keys[item.event_id]
        if item.email:
            join(key, f"email:{item.email.lower()}")
        if handed := handoff_from_url(item.url, item.at):
            join(key, handed)
    tied = set()
    for purchase_id, truth in traffic.truths.items():
        record = records[purchase_id]
        anchors = {traffic.event_keys[truth.checkout_landing]}
        anchors |= {f"email:{e.lower()}" for e in (record.email, record.recipient_email) if e}
        anchors |= {traffic.real_keys.get(record.visitor_key, record.visitor_key)} if record.visitor_key else set()
        if find(traffic.event_keys[truth.first_landing]) in {find(a) for a in anchors}:
            tied.add(purchase_id)
    return tied


def combine(scores: list[Score]) -> Score:
    """Every scenario's purchases counted together."""
    by_method: Counter[str] = Counter()
    true_revenue: Counter[str] = Counter()
    credited: Counter[str] = Counter()
    for s in scores:
        by_method.update(s.by_method)
        for line in s.revenue:
            true_revenue[line.source] += line.true_revenue
            credited[line.source] += line.credited_revenue
    return Score(
        scenario="overall",
        purchases=sum(s.purchases for s in scores),
        matched=sum(s.matched for s in scores),
        by_method=dict(sorted(by_method.items())),
        first_touch_right=sum(s.first_touch_right for s in scores),
        last_touch_right=sum(s.last_touch_right for s in scores),
        false_matches=sum(s.false_matches for s in scores),
        revenue=tuple(
            SourceRevenue(k, true_revenue[k], credited[k]) for k in sorted(set(true_revenue) | set(credited))
        ),
        unmatched_revenue=sum(s.unmatched_revenue for s in scores),
        hits=sum(s.hits for s in scores),
        knowable=sum(s.knowable for s in scores),
        knowable_first_right=sum(s.knowable_first_right for s in scores),
    )


def _money(minor: int) -> str:
    return f"{Money(minor, 'USD').format_major():>11}"


def report(result: Score, description: str = "") -> str:
    """The figures a person reads, one block per scenario."""
    lines = [f"== {result.scenario}" + (f": {description}" if description else "")]
    lines.append(
        f"   purchases {result.purchases}, tracker hits {result.hits}; matched {result.matched} "
        f"({result.match_rate:.1%})"
    )
    methods = ", ".join(f"{m} {n}" for m, n in result.by_method.items()) or "none"
    lines.append(f"   matched by: {methods}")
    lines.append(
        f"   of matched: first touch right {result.first_touch_accuracy:.1%}, last touch right "
        f"{result.last_touch_accuracy:.1%}, false matches {result.false_matches} ({result.false_match_rate:.1%})"
    )
    lines.append(
        f"   first visit within reach (a recorded signal ties it to the buyer): {result.knowable} of "
        f"{result.matched}; first touch right among them {result.knowable_first_touch_accuracy:.1%}"
    )
    lines.append("   first-touch revenue by source (USD):      true     credited        error")
    for line in result.revenue:
        lines.append(
            f"     {line.source:<24}{_money(line.true_revenue)}  {_money(line.credited_revenue)}  {_money(line.error)}"
        )
    lines.append(f"     {'(unmatched)':<24}{'':>11}  {_money(result.unmatched_revenue)}")
    return "\n".join(lines)
