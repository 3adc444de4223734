"""The demo account: a creator whose dashboard is full on a newcomer's first look.

The traffic is the attribution simulator's default scenario (its channel mix, devices and hard cases), moved
so that it ends now: journeys begin over the last `DEMO_DAYS` days, and whatever the scenario would have
played after now (the end of journeys still under way) is left out, as it has not happened yet. It runs
through the real services, so every stored figure is one the product computed itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from adapters.simulator.playing import SimulatedClock, SimulationServices, run, tracker_delivery
from adapters.simulator.scenarios import SCENARIOS, site_domains
from adapters.simulator.traffic import generate
from core.domain.purchases import PurchaseRecord
from core.services.onboarding import Onboarding

DEMO_EMAIL = "demo@coursesignal.localhost"
DEMO_PASSWORD = "demo-password-123"  # noqa: S105 - printed on the console: the demo holds made-up data only  # nosec B105
DEMO_DAYS = 60
DEMO_PEOPLE = 1500  # about 300 buyers in the default scenario's mix
DEMO_PLATFORM = "kajabi"


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    account_id: int
    created: bool  # False: the demo account was there already and nothing was added
    purchases: int = 0
    hits: int = 0


def fill_demo_account(
    services: SimulationServices,
    onboarding: Onboarding,
    clock: SimulatedClock,
    *,
    now: datetime,
    password: str = DEMO_PASSWORD,
    people: int = DEMO_PEOPLE,
    seed: int = 1,
) -> DemoOutcome:
    """Create the demo account and play simulated weeks into it; once: an existing demo account is left alone.

    `clock` is the clock the services were built with; it is moved through the past as the traffic plays and
    left at `now`.
    """
    with services.uow() as uow:
        existing = uow.accounts.get_by_email(DEMO_EMAIL)
    if existing is not None:
        assert existing.id is not None
        return DemoOutcome(existing.id, created=False)

    # The account and its trial start now; only the traffic lies in the past.
    clock.set(now)
    account = services.accounts.create_verified_account(DEMO_EMAIL, password)
    assert account.id is not None
    account_id = account.id
    site = services.accounts.add_site(DEMO_EMAIL, site_domains())

    # People keep arriving until now, as on a live site, so the last week has new visitors too.
    scenario = replace(
        SCENARIOS["default"], people=people, start=now - timedelta(days=DEMO_DAYS), arrival_days=DEMO_DAYS
    )
    traffic = generate(scenario, seed)
    past = replace(traffic, timeline=[item for item in traffic.timeline if item[0] < now])
    hits = run(
        past,
        deliver=tracker_delivery(services.tracking, services.salts, site.public_key),
        ingest=lambda records: services.purchases.ingest(account_id, records),
        clock=clock,
    )
    clock.set(now)
    purchases = sum(1 for _, _, item in past.timeline if isinstance(item, PurchaseRecord))

    # The setup steps are done, so the dashboard shows figures rather than a "finish setting up" notice.
    onboarding.choose_platform(account_id, DEMO_PLATFORM)
    onboarding.record_sync(account_id, purchases)
    onboarding.complete(account_id)
    return DemoOutcome(account_id, created=True, purchases=purchases, hits=hits)
