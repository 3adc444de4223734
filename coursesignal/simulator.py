"""Wiring for `coursesignal simulate`: a throwaway database, the real services, synchronous jobs."""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from dependency_injector import providers

from adapters.jobs.synchronous import SynchronousJobQueue
from adapters.persistence.migrate import upgrade
from adapters.simulator.browser import APP_ORIGIN, BrowserPlayer, agreement
from adapters.simulator.playing import (
    Deliver,
    Ingest,
    SimulatedClock,
    SimulationServices,
    collect_body,
    journeys,
    play,
    simulate,
    visitor_key_of,
)
from adapters.simulator.scenarios import SCENARIOS
from adapters.simulator.scoring import Score, combine, report
from adapters.simulator.traffic import Hit, generate
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.domain.sites import tracking_snippet
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


# --- `coursesignal simulate --browser N`: the journeys played through chromium (adapters/simulator/browser.py) ----


def run_in_browser(name: str, *, seed: int, count: int, chromium: str, directory: Path) -> tuple[Score, Score]:
    """The first `count` sales' journeys of a scenario, played in chromium against the app and, for
    comparison, through the model (the tracking service directly); returns (browser, model).

    It runs in a thread of its own: Playwright's sync API refuses a thread where an asyncio loop is running,
    as it is in a caller that already drives a browser (a test session, a notebook)."""
    with ThreadPoolExecutor(max_workers=1) as own_thread:
        return own_thread.submit(
            _play_in_browser, name, seed=seed, count=count, chromium=chromium, directory=directory
        ).result()


def _play_in_browser(name: str, *, seed: int, count: int, chromium: str, directory: Path) -> tuple[Score, Score]:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    traffic = journeys(generate(SCENARIOS[name], seed), count)
    model_clock = SimulatedClock()
    settings, container = _container(directory, f"{name}-model", model_clock)
    try:
        model = play(journeys(generate(SCENARIOS[name], seed), count), simulation_services(container), model_clock)
    finally:
        container.unwire()
        container.gateways.engine().dispose()

    clock = SimulatedClock()
    settings, container = _container(directory, f"{name}-browser", clock)
    settings = replace(settings, trusted_proxies=1)  # the address of each hit comes in X-Forwarded-For
    app = build_app(settings, container)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    remaining: dict[str, int] = {}
    for _, _, item in traffic.timeline:
        if isinstance(item, Hit):
            remaining[item.device] = remaining.get(item.device, 0) + 1
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            try:
                services = simulation_services(container)
                player: BrowserPlayer | None = None

                def for_site(site_key: str) -> Deliver:
                    nonlocal player
                    with container.gateways.unit_of_work() as uow:
                        site = uow.sites.get_by_key(site_key)
                    assert site is not None
                    snippet = tracking_snippet(APP_ORIGIN, site)
                    player = BrowserPlayer(
                        browser,
                        f"http://127.0.0.1:{server.server_port}",
                        container.gateways.engine(),
                        snippet,
                        remaining,
                    )
                    return player

                def translated(ingest: Callable[[Iterable[PurchaseRecord | RefundRecord]], object]) -> Ingest:
                    def with_real_keys(records: Iterable[PurchaseRecord | RefundRecord]) -> object:
                        assert player is not None
                        traffic.real_keys.update(player.real_keys)
                        return ingest(
                            replace(r, visitor_key=player.real_keys.get(r.visitor_key, r.visitor_key))
                            if isinstance(r, PurchaseRecord) and r.visitor_key
                            else r
                            for r in records
                        )

                    return with_real_keys

                real = play(traffic, services, clock, for_site, translated)
            finally:
                browser.close()
    finally:
        server.shutdown()
        thread.join(timeout=5)
        container.unwire()
        container.gateways.engine().dispose()
    return real, model


def run_browser_scenario(name: str, *, seed: int, count: int, chromium: str) -> Iterator[str]:
    """The browser run's figures, then whether the model run on the same journeys agrees (raises if not)."""
    if not Path(chromium).exists():
        raise FileNotFoundError(f"no chromium at {chromium} (apt-get install chromium, or pass --chromium)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="coursesignal-simulate-") as directory:
        real, model = run_in_browser(name, seed=seed, count=count, chromium=chromium, directory=Path(directory))
    seconds = time.monotonic() - started
    description = f"the first {count} sales' journeys, played in chromium with the served t.js"
    yield report(real, description) + f"\n   ({seconds:.1f} s, seed {seed})"
    differences = agreement(real, model)
    if differences:
        raise RuntimeError("the browser run and the model run disagree: " + "; ".join(differences))
    yield f"   the model run on the same {real.purchases} sales gives the same figures"
