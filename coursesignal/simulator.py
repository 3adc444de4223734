"""Wiring for `coursesignal simulate`: a throwaway database, the real services, synchronous jobs."""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dependency_injector import providers
from sqlalchemy import func, select

from adapters.jobs.synchronous import SynchronousJobQueue
from adapters.persistence import tables as t
from adapters.persistence.migrate import upgrade
from core.domain.events import EventKind
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.domain.sites import tracking_snippet
from core.services.simulation import (
    MAIN_DOMAIN,
    SCENARIOS,
    SCHOOL_DOMAIN,
    Deliver,
    Hit,
    Ingest,
    Score,
    SimulatedClock,
    SimulationServices,
    collect_body,
    combine,
    generate,
    journeys,
    play,
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


# --- `coursesignal simulate --browser N`: the journeys played through chromium with the served t.js --------

CHECKOUT_HOSTS = re.compile(r"^https://(sso\.teachable\.com|buy\.stripe\.com)/")
APP_ORIGIN = "https://coursesignal.simulator.test"  # the app, reached by the browser through a route
# Every page of the creator's sites: the snippet, an email field (a form's or a checkout's) and one link the
# player points wherever the next click goes.
CREATOR_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Launch Course</title>{snippet}</head>
<body><input type="email" id="email" name="email" autocomplete="email"><a id="go" href="/">go</a></body></html>"""
ELSEWHERE = "<!doctype html><html><head><title>elsewhere</title></head><body>no script here</body></html>"
# A browser that keeps nothing: reading or writing a cookie or storage throws, as with storage blocked.
BLOCK_STORAGE = """
Object.defineProperty(Document.prototype, 'cookie', {
  get() { throw new DOMException('blocked', 'SecurityError'); },
  set(v) { throw new DOMException('blocked', 'SecurityError'); }, configurable: true });
Object.defineProperty(window, 'localStorage', {
  get() { throw new DOMException('blocked', 'SecurityError'); }, configurable: true });
"""


class BrowserPlayer:
    """Plays simulated hits in chromium: one browser context per simulated device, the real snippet and t.js
    on pages answered by routes, each event reaching the real app (its address from the hit, through the
    app's proxy header) before the next is played. Returns, per hit, the visitor id the app stored it under."""

    def __init__(self, browser: Any, app_url: str, engine: Any, snippet: str, remaining: dict[str, int]) -> None:
        self.browser, self.app_url, self.engine, self.snippet = browser, app_url, engine, snippet
        self.remaining = remaining  # device -> hits still to play: its context closes after the last
        self.contexts: dict[str, Any] = {}
        self.pages: dict[str, Any] = {}
        self.last_keys: dict[tuple[str, str], str | None] = {}
        self.real_keys: dict[str, str] = {}
        self.hit: Hit | None = None
        self.nothing_next = False  # the next creator page is where a click leads: it runs no script
        self.stored = 0

    # -- routes
    def _creator_page(self, route: Any) -> None:
        if self.nothing_next:
            self.nothing_next = False
            route.fulfill(status=200, content_type="text/html", body=ELSEWHERE)
            return
        route.fulfill(status=200, content_type="text/html", body=CREATOR_PAGE.format(snippet=self.snippet))

    def _app(self, route: Any) -> None:
        assert self.hit is not None
        request = route.request
        headers = {**request.headers, "x-forwarded-for": self.hit.address, "accept-language": self.hit.language}
        from playwright.sync_api import Error as PlaywrightError

        try:
            answer = route.fetch(url=self.app_url + request.url.removeprefix(APP_ORIGIN), headers=headers)
            route.fulfill(response=answer)
        except PlaywrightError:
            # The page went away meanwhile (a navigation, a closed context): a beacon still reached the app,
            # and one that did not is reported by the wait for its event.
            pass

    def _page(self, hit: Hit) -> Any:
        if hit.device not in self.contexts:
            context = self.browser.new_context(user_agent=hit.user_agent, ignore_https_errors=True)
            if hit.storage_blocked:
                context.add_init_script(BLOCK_STORAGE)
            context.route(
                re.compile(r"^https://(creator\.example|creator-school\.teachable\.com)/"), self._creator_page
            )
            context.route(
                CHECKOUT_HOSTS, lambda route: route.fulfill(status=200, content_type="text/html", body=ELSEWHERE)
            )
            context.route(re.compile("^" + re.escape(APP_ORIGIN) + "/"), self._app)
            context.set_default_timeout(15_000)
            self.contexts[hit.device] = context
            self.pages[hit.device] = context.new_page()
        return self.pages[hit.device]

    # -- playing one hit
    def __call__(self, hit: Hit) -> str:
        self.hit = hit
        page = self._page(hit)
        if hit.kind is EventKind.PAGEVIEW:
            self._pageview(page, hit)
        elif hit.kind is EventKind.IDENTIFY:
            assert page.url == hit.url, (page.url, hit.url)
            page.fill("#email", hit.email or "")
            page.dispatch_event("#email", "change")
        else:  # a click through to a checkout, from the page it leaves
            target = re.sub(r"[?&]client_reference_id=[^&]*", "", hit.url)  # t.js adds its own
            self.nothing_next = True
            self._follow(page, target)
            self.nothing_next = False  # (a platform's checkout was answered by its own route)
        key = self._stored_key()
        if hit.visitor_key is not None:
            self.real_keys[hit.visitor_key] = key
        self.remaining[hit.device] -= 1
        if not self.remaining[hit.device]:
            context = self.contexts.pop(hit.device)
            context.unroute_all(behavior="ignoreErrors")  # (a beacon still in flight is not waited for)
            context.close()
            self.pages.pop(hit.device)
        return key

    def _pageview(self, page: Any, hit: Hit) -> None:
        domain = urlsplit(hit.url).hostname or ""
        handed_over = domain == SCHOOL_DOMAIN and urlsplit(page.url).hostname == MAIN_DOMAIN
        previous = self.last_keys.get((hit.device, domain), hit.visitor_key)
        self.last_keys[(hit.device, domain)] = hit.visitor_key
        if hit.visitor_key is not None and previous != hit.visitor_key and not handed_over:
            self._wipe(page, domain)  # cleared by the person, or by Safari after 7 days: a new id
        if handed_over:
            self._follow(page, hit.url)  # the link on the page: t.js hands its id over, the school adopts it
        else:
            page.goto(hit.url, referer=hit.referrer)

    def _follow(self, page: Any, url: str) -> None:
        page.evaluate("url => { document.getElementById('go').href = url; }", url)
        with page.expect_navigation():
            page.click("#go")

    def _wipe(self, page: Any, domain: str) -> None:
        page.context.clear_cookies(domain=re.compile(r"(^|\.)" + re.escape(domain.split(".", 1)[-1]) + "$"))
        self.nothing_next = True
        page.goto(f"https://{domain}/")
        self.nothing_next = False
        page.evaluate("() => localStorage.clear()")

    def _stored_key(self) -> str:
        """Wait for the app to have stored this hit's event; the visitor id it was stored under."""
        deadline = time.monotonic() + 15
        query = (
            select(t.visitors.c.visitor_key)
            .select_from(t.events.join(t.visitors, t.visitors.c.id == t.events.c.visitor_id))
            .order_by(t.events.c.id.desc())
            .limit(1)
        )
        while True:
            with self.engine.connect() as db:
                count = db.execute(select(func.count()).select_from(t.events)).scalar_one()
                if count > self.stored:
                    if count != self.stored + 1:
                        raise RuntimeError(f"the browser sent {count - self.stored} events for one hit: {self.hit}")
                    self.stored = count
                    return str(db.execute(query).scalar_one())
            if time.monotonic() > deadline:
                page = self.pages.get(self.hit.device) if self.hit else None
                where = page.url if page else None
                raise RuntimeError(f"the browser's event never reached the app: {self.hit} (the page: {where})")
            # (waiting through the page lets Playwright run the route that forwards the beacon)
            self.pages[self.hit.device].wait_for_timeout(20) if self.hit else time.sleep(0.02)


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


def agreement(real: Score, model: Score) -> list[str]:
    """The figures on which the browser run and the model run differ (none when they agree)."""
    names = ("purchases", "matched", "by_method", "first_touch_right", "last_touch_right", "false_matches")
    names += ("knowable", "knowable_first_right", "unmatched_revenue")
    return [
        f"{n}: browser {getattr(real, n)}, model {getattr(model, n)}"
        for n in names
        if getattr(real, n) != getattr(model, n)
    ]


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
