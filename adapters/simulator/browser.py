"""`coursesignal simulate --browser N`: simulated hits played in chromium with the real snippet and the served
t.js against the real app, and the comparison with the same journeys played through the model."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from adapters.persistence import tables as t
from adapters.simulator.scenarios import MAIN_DOMAIN, SCHOOL_DOMAIN
from adapters.simulator.scoring import Score
from adapters.simulator.traffic import Hit
from core.domain.events import EventKind

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


def agreement(real: Score, model: Score) -> list[str]:
    """The figures on which the browser run and the model run differ (none when they agree)."""
    names: tuple[str, ...] = ("purchases", "matched", "by_method", "first_touch_right", "last_touch_right")
    names += ("false_matches", "knowable", "knowable_first_right", "unmatched_revenue")
    return [
        f"{n}: browser {getattr(real, n)}, model {getattr(model, n)}"
        for n in names
        if getattr(real, n) != getattr(model, n)
    ]
