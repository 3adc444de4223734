"""Wiring for `coursesignal run --demo`: the demo account filled on the app's own database."""

from __future__ import annotations

from datetime import datetime

from adapters.clock import SystemClock
from adapters.simulator.demo import DEMO_PEOPLE, DemoOutcome, fill_demo_account
from adapters.simulator.playing import SimulatedClock
from coursesignal.settings import Settings
from coursesignal.simulator import simulation_container, simulation_services


def seed_demo(
    settings: Settings, *, password: str, people: int = DEMO_PEOPLE, now: datetime | None = None
) -> DemoOutcome:
    """Create and fill the demo account unless it exists; jobs run as they are queued, on a clock set in the past.

    The services run on their own container, so the simulated clock never reaches the app that serves.
    """
    moment = now or SystemClock().now()
    clock = SimulatedClock(moment)
    container = simulation_container(settings, clock)
    try:
        return fill_demo_account(
            simulation_services(container),
            container.services.onboarding(),
            clock,
            now=moment,
            password=password,
            people=people,
        )
    finally:
        container.unwire()
        container.gateways.engine().dispose()
