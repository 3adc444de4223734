"""Running the traffic through the real services: the simulation's clock, the hits handed to the tracking
service the way the web edge hands them (or to any other `deliver`), the purchases to the import, then the score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from adapters.simulator.scenarios import START, Scenario, site_domains
from adapters.simulator.scoring import Score, score
from adapters.simulator.traffic import Hit, Traffic, generate
from core.domain.events import EventKind, TrackerEvent
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.ports.uow import UnitOfWork
from core.services.accounts import Accounts
from core.services.fingerprints import FingerprintSalts
from core.services.purchases import Purchases
from core.services.tracking import Tracking


class SimulatedClock:
    """The simulation's time: moved forward as the traffic plays."""

    def __init__(self, now: datetime = START) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


# Sends one hit and says which visitor id it was stored under (the server derives one when `v` is absent).
Deliver = Callable[[Hit], str]
Ingest = Callable[[Iterable[PurchaseRecord | RefundRecord]], object]


def run(traffic: Traffic, *, deliver: Deliver, ingest: Ingest, clock: SimulatedClock) -> int:
    """Play the timeline in order: hits to the tracker, purchases and refunds to the platform import."""
    hits = 0
    for at, _, item in traffic.timeline:
        clock.set(at)
        if isinstance(item, Hit):
            key = traffic.event_keys[item.event_id] = deliver(item)
            person = traffic.hit_person[item.event_id]
            traffic.visitor_owners[key].add(person)
            if item.kind is EventKind.PAGEVIEW:
                traffic.hit_owner[(key, at)] = person
            hits += 1
        else:
            ingest([item])
    return hits


def visitor_key_of(hit: Hit, salts: FingerprintSalts, site_key: str) -> str:
    """The visitor id a hit is stored under: the tracker's own, or, when it sent none, the one the collect
    endpoint derives from the sender's address and browser with the day's salt (the same function)."""
    if hit.visitor_key is not None:
        return hit.visitor_key
    derived = salts.derived_visitor_key(address=hit.address, user_agent=hit.user_agent, site_key=site_key)
    assert derived is not None, "simulated hits always have an address and a User-Agent"
    return derived


def tracker_delivery(tracking: Tracking, salts: FingerprintSalts, site_key: str) -> Deliver:
    """Hand hits straight to the tracking service, identified and fingerprinted the way the web edge does it."""

    def deliver(hit: Hit) -> str:
        key = visitor_key_of(hit, salts, site_key)
        tracking.record(
            TrackerEvent(
                site_key=site_key,
                client_event_id=hit.event_id,
                kind=hit.kind,
                visitor_key=key,
                url=hit.url,
                received_at=hit.at,
                referrer=hit.referrer,
                email=hit.email,
                user_agent=hit.user_agent,
                fingerprint=salts.fingerprint(address=hit.address, user_agent=hit.user_agent, language=hit.language),
            )
        )
        return key

    return deliver


def collect_body(hit: Hit, site_key: str) -> dict[str, str]:
    """The JSON body the tracker script posts to /t/e for a hit."""
    body = {"s": site_key, "n": hit.kind.value, "i": hit.event_id, "u": hit.url}
    if hit.visitor_key is not None:
        body["v"] = hit.visitor_key
    if hit.referrer:
        body["r"] = hit.referrer
    if hit.email:
        body["e"] = hit.email
    return body


@dataclass(frozen=True, slots=True)
class SimulationServices:
    """The real services a simulation runs through, built on a fresh store by the caller."""

    accounts: Accounts
    purchases: Purchases
    tracking: Tracking
    salts: FingerprintSalts
    uow: Callable[[], UnitOfWork]


def journeys(traffic: Traffic, count: int) -> Traffic:
    """The first `count` sales' journeys alone (by time of sale): the hits of their buyers and students,
    their purchases and refunds, nothing of anyone else."""
    chosen = sorted(traffic.truths.values(), key=lambda t: t.purchase_id)
    chosen = sorted(chosen, key=lambda t: _sale_time(traffic, t.purchase_id))[:count]
    people = {n for truth in chosen for n in (truth.journey_person, truth.payer)}
    sales = {truth.purchase_id for truth in chosen}
    timeline = [
        item
        for item in traffic.timeline
        if (isinstance(item[2], Hit) and traffic.hit_person[item[2].event_id] in people)
        or (not isinstance(item[2], Hit) and item[2].platform_purchase_id in sales)
    ]
    truths = {pid: truth for pid, truth in traffic.truths.items() if pid in sales}
    return Traffic(traffic.scenario, timeline, truths, traffic.hit_person)


def _sale_time(traffic: Traffic, purchase_id: str) -> datetime:
    return next(
        at
        for at, _, item in traffic.timeline
        if isinstance(item, PurchaseRecord) and item.platform_purchase_id == purchase_id
    )


def simulate(
    scenario: Scenario,
    seed: int,
    services: SimulationServices,
    clock: SimulatedClock,
    deliver: Callable[[str], Deliver] | None = None,
) -> Score:
    """Generate a scenario's traffic, play it through the services and score the stored results.

    `deliver` makes the hit sender for a site key; by default hits go to the tracking service directly.
    """
    return play(generate(scenario, seed), services, clock, deliver)


def play(
    traffic: Traffic,
    services: SimulationServices,
    clock: SimulatedClock,
    deliver: Callable[[str], Deliver] | None = None,
    ingest: Callable[[Callable[[Iterable[PurchaseRecord | RefundRecord]], object]], Ingest] | None = None,
) -> Score:
    """Play traffic through the services on a new account and site, and score what they stored.

    `ingest`, when given, wraps the purchase import (the browser run translates visitor ids carried into a
    sale from the simulated ones to those the real script made).
    """
    scenario = traffic.scenario
    account = services.accounts.ensure_account(f"creator-{scenario.name.replace('_', '-')}@coursesignal.test")
    assert account.id is not None
    site = services.accounts.add_site(account.email, site_domains())
    sender = (
        deliver(site.public_key) if deliver else tracker_delivery(services.tracking, services.salts, site.public_key)
    )
    account_id = account.id

    def import_records(records: Iterable[PurchaseRecord | RefundRecord]) -> object:
        return services.purchases.ingest(account_id, records)

    hits = run(traffic, deliver=sender, ingest=ingest(import_records) if ingest else import_records, clock=clock)
    return score(traffic, services.uow, account_id, hits)
