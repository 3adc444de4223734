"""Wiring for `coursesignal simulate`: a throwaway database, the real services, synchronous jobs."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from dependency_injector import providers

from adapters.jobs.synchronous import SynchronousJobQueue
from adapters.persistence.migrate import upgrade
from core.services.simulation import (
    SCENARIOS,
    Deliver,
    Hit,
    Score,
    SimulatedClock,
    SimulationServices,
    collect_body,
    combine,
    report,
    simulate,
    visitor_key_of,
)
from coursesignal.container import Container, build_app, create_container
from coursesignal.settings import Settings


def _container(directory: Path, name: str, clock: SimulatedClock) -> tuple[Settings, Container]:
    settings = Settings(
        database_url=f"sqlite:///{directory / f'{name}.db'}",
        redis_url=None,
        base_url="http://simulator.coursesignal.test",
        instance_path=directory / "instance",
        environment="test",
        secret_key="simulator-only",  # noqa: S106 - a throwaway app that never serves anyone  # nosec B106
    )
    return settings, simulation_container(settings, clock)


def simulation_container(settings: Settings, clock: SimulatedClock) -> Container:
    """The real services on the settings' database, on the simulation's clock, running jobs as they are queued.

    The schema is brought up to date first. The caller unwires the container and disposes of its engine.
    """
    container = create_container(settings)
    container.gateways.clock.override(providers.Object(clock))
    container.gateways.job_queue.override(providers.Singleton(SynchronousJobQueue))
    logging.getLogger("alembic").setLevel(logging.WARNING)
    upgrade(container.gateways.engine())
    return container


def simulation_services(container: Container) -> SimulationServices:
    return SimulationServices(
        accounts=container.services.accounts(),
        purchases=container.services.purchases(),
        tracking=container.services.tracking(),
        salts=container.services.fingerprint_salts(),
        uow=container.gateways.unit_of_work,
    )


def _http_delivery(settings: Settings, container: Container) -> Callable[[str], Deliver]:
    client = build_app(settings, container).test_client()
    salts = container.services.fingerprint_salts()

    def for_site(site_key: str) -> Deliver:
        def deliver(hit: Hit) -> str:
            response = client.post(
                "/t/e",
                data=json.dumps(collect_body(hit, site_key)),
                content_type="text/plain",
                headers={"User-Agent": hit.user_agent, "Accept-Language": hit.language},
                environ_base={"REMOTE_ADDR": hit.address},
            )
            if response.status_code != 204:
                raise RuntimeError(f"/t/e answered {response.status_code}: {response.get_data(as_text=True)}")
            # The id the endpoint stored the hit under (it derives one when `v` is absent), for the scoring.
            return visitor_key_of(hit, salts, site_key)

        return deliver

    return for_site


def run_scenario(name: str, *, seed: int, over_http: bool, directory: Path, people: int | None = None) -> Score:
    clock = SimulatedClock()
    scenario = SCENARIOS[name] if people is None else replace(SCENARIOS[name], people=people)
    settings, container = _container(directory, name, clock)
    try:
        services = simulation_services(container)
        deliver = _http_delivery(settings, container) if over_http else None
        return simulate(scenario, seed, services, clock, deliver)
    finally:
        container.unwire()
        container.gateways.engine().dispose()


def run_scenarios(names: list[str], *, seed: int, over_http: bool, people: int | None = None) -> Iterator[str]:
    """Each scenario's figures as it finishes, then the overall figures when there are several."""
    scores = []
    # Memory-backed when the machine has it: the simulator commits tens of thousands of small transactions.
    shared_memory = Path("/dev/shm")  # noqa: S108 - a private temporary directory is made inside it  # nosec B108
    base = str(shared_memory) if shared_memory.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="coursesignal-simulate-", dir=base) as directory:
        for name in names:
            started = time.monotonic()
            result = run_scenario(name, seed=seed, over_http=over_http, directory=Path(directory), people=people)
            scores.append(result)
            seconds = time.monotonic() - started
            yield report(result, SCENARIOS[name].description) + f"\n   ({seconds:.1f} s, seed {seed})"
    if len(scores) > 1:
        yield report(combine(scores), "every scenario's purchases together")
