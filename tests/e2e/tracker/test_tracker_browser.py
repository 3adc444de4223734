"""The first-party tracking script (adapters/web/static/t.js): one table of cases, run in every engine.

Each case runs in Chromium (Playwright), Firefox ESR (puppeteer-core over WebDriver BiDi) and WebKitGTK
(Selenium's WebKitGTK driver under Xvfb) through the small driver interface of tests/e2e/engines/drivers.py;
a failure is reported as e.g. `test_tracker[firefox-spa_navigation]`, and its message starts with the engine
(tests/e2e/conftest.py).

Self-contained: a threaded http.server on 127.0.0.1 serves fixture pages, the built t.js and a `POST /t/e`
collector that records every body and answers 204; every other path is "somewhere else" (a checkout, another
site) and is recorded as visited. The same server reached as `127.0.0.1:PORT` and as `localhost:PORT` gives two
origins (separate cookies and storage) for the cross-domain hand-off; made-up hosts (MADE_UP_HOSTS) reach it
too, as each engine's HTTP proxy. Every case uses its own site key.
What a case needs a page to do before the tracker runs (storage that throws, GPC on, no fetch, no sendBeacon)
is an inline script the server puts in the page ahead of the tag (`?pre=`), the same in every engine; every
page also records its uncaught errors and unhandled rejections in `window.__errors`.

Skips with a reason when an engine is missing, except with CI=true, where it fails.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import escape as html_escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from core.domain.checkout import is_checkout_url
from tests.e2e.engines.drivers import (
    ENGINES,
    Driver,
    launch,
    wait_until,
    wait_url,
)

# One worker runs the whole module under pytest-xdist: each engine (chromium, firefox, WebKitGTK) starts once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("tracker-engines")]

TRACKER_JS = Path(__file__).resolve().parents[3] / "adapters" / "web" / "static" / "t.js"

ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

# Link targets the tracker must judge exactly as the server's is_checkout_url does (the site's own checkout
# path in the test is /order-now): checkouts of every platform, and near misses.
CHECKOUT_TABLE = (
    "https://checkout.stripe.com/c/pay/cs_test_1",
    "https://buy.stripe.com/test_123",
    "https://pay.kajabi.com/offers/x",
    "https://creator.mykajabi.com/offers/abc123",
    "https://creator.mykajabi.com/offers/abc123/checkout",
    "https://sso.teachable.com/secure/4242/checkout/777",
    "https://school.creator.example/purchase?product_id=9",
    "https://checkout.teachable.com/secure/1/checkout/2",
    "https://www.paypal.com/checkoutnow?token=x",
    "https://paypal.com/paypalme/creator",
    "https://checkout.paddle.com/checkout/custom/abc",
    "https://pay.gumroad.com/l/course",
    "https://creator.example/cart",
    "https://creator.example/Order-Now/step-1",
    "https://creator.example/shop/checkout/",
    "https://creator.example/blog/why-checkout-pages-convert",
    "https://creator.example/offers/abc123/thank-you",
    "https://creator.example/order",
    "https://www.youtube.com/watch?v=x",
    "https://stripe.com/pricing",
    "https://creator.example/course",
    "mailto:checkout@creator.example",
)
OWN_CHECKOUT_PATH = "/order-now"
# Hosts under a registrable domain and under a hosting suffix on the Public Suffix List, for the cookie domain.
MADE_UP_HOSTS = ("www.creator.test", "shop.creator.test", "my-course.herokuapp.com")

# --------------------------------------------------------------------------------- fixture pages

# What a page runs before the tag, by name (?pre=a,b).
RECORD_ERRORS = """window.__errors = [];
addEventListener('error', function (e) { __errors.push(String(e.message)); });
addEventListener('unhandledrejection', function (e) { __errors.push('rejection: ' + e.reason); });"""
PRE = {
    "block": """
Object.defineProperty(Document.prototype, 'cookie', {
  get() { throw new DOMException('blocked', 'SecurityError'); },
  set(v) { throw new DOMException('blocked', 'SecurityError'); },
  configurable: true,
});
Object.defineProperty(window, 'localStorage', {
  get() { throw new DOMException('blocked', 'SecurityError'); },
  configurable: true,
});""",
    "gpc": "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});",
    "nofetch": "window.fetch = () => Promise.reject(new Error('no fetch here'));",
    "nobeacon": "delete Navigator.prototype.sendBeacon;",
}

# {snippet} is replaced by the pre scripts and the tracker tag built from the query string.
PAGES = {
    "basic": """<!doctype html><html><head><title>Basic page</title>{snippet}</head><body>
<h1>Basic</h1>
<a id="other" href="{other}/p/basic?site={site}&amp;domains={here_host}&amp;keep=1#frag">other domain</a>
<a id="same" href="/p/basic?site={site}">same site</a>
<a id="stripe" class="stay" href="https://buy.stripe.com/test_123?prefilled_email=a%40b.co"><span>buy</span></a>
<a id="stripe-ref" class="stay" href="https://checkout.stripe.com/c/pay/cs_test?client_reference_id=mine">pay</a>
<a id="unrelated" class="stay" href="https://example.org/x">unrelated</a>
<form id="xform" method="post" action="{other}/p/thanks?site={site}"><button id="xsubmit">go</button></form>
<script>document.addEventListener('click', function (e) {{
  if (e.target.closest('.stay')) e.preventDefault(); }});</script>
</body></html>""",
    "from": """<!doctype html><html><head><title>Elsewhere</title></head><body>
<a id="go" href="{to}">go</a></body></html>""",
    "form": """<!doctype html><html><head><title>Opt-in</title>{snippet}</head><body>
<p id="elsewhere">Join the list</p>
<form id="f" method="post" action="/p/thanks?site={site}">
  <input name="Email" id="Email" value="">
  <input type="password" name="password" id="password">
  <input type="hidden" name="email_hidden" value="hidden@example.com">
  <input name="cc-number" id="card" autocomplete="cc-number email" value="">
  <input type="text" name="first_name" value="Jane">
  <button id="submit" type="submit">Join</button>
</form>
<input type="email" id="ajax-email" placeholder="AJAX widget, never submitted">
</body></html>""",
    "thanks": """<!doctype html><html><head><title>Thanks</title>{snippet}</head><body>ok</body></html>""",
    "checkout": """<!doctype html><html><head><title>Sales page</title>{snippet}</head><body>
<a id="teachable" href="{other}/secure/4242/checkout/777">enrol</a>
<a id="own" href="/p/thanks?site={site}">thanks (not a checkout)</a>
<form id="pay" method="post" action="{other}/cart"><button id="paypal">Pay</button></form>
<form id="search" method="get" action="/p/thanks"><input name="q"><button id="find">find</button></form>
<div id="targets">{links}</div>
</body></html>""",
    "queue": """<!doctype html><html><head><title>Queue</title>
<script>window.cs=window.cs||function(){{(cs.q=cs.q||[]).push(arguments)}};
cs('identify',' Queue@Example.COM ');</script>
{snippet}</head><body>queue</body></html>""",
    "spa": """<!doctype html><html><head><title>SPA home</title>{snippet}</head><body>
<button id="push"
  onclick="history.pushState({{}}, '', '/p/spa/step2?site={site}');document.title='Step 2'">push</button>
<a id="away" href="/p/thanks?site={site}">away</a>
</body></html>""",
    "broken": """<!doctype html><html><head><title>Broken</title>{snippet}
<script>window.undefinedFunctionOfTheCreator();</script></head><body>
<p id="status">loading</p>
<button id="btn" onclick="document.getElementById('status').textContent='clicked'">btn</button>
<a id="other" href="{other}/p/basic?site={site}">other</a>
<script>document.getElementById('status').textContent = 'ready';</script>
</body></html>""",
}


class Collector:
    """Thread-safe record of every body POSTed to /t/e, and of every other place a browser went."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.raw: list[tuple[str, str]] = []  # (body, content-type)
        self.visits: list[str] = []  # paths (with query) outside /p/
        self.refused: list[str] = []  # sites whose beacons the "blocked" endpoint refused

    def add(self, body: str, content_type: str) -> None:
        with self.lock:
            self.raw.append((body, content_type))
            try:
                self.events.append(json.loads(body))
            except ValueError:
                self.events.append({"_invalid": body})

    def for_site(self, site: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e.get("s") == site]

    def raw_for_site(self, site: str) -> list[tuple[str, str]]:
        with self.lock:
            return [r for r in self.raw if f'"s":"{site}"' in r[0]]


def make_handler(collector: Collector, script: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep pytest output quiet
            pass

        def parse_request(self) -> bool:
            ok = super().parse_request()
            if ok and not self.path.startswith("/"):  # an absolute URI: asked as the browser's proxy
                url = urlsplit(self.path)
                self.path = url.path + (f"?{url.query}" if url.query else "")
            return ok

        def _send(self, status: int, body: bytes = b"", content_type: str = "text/html; charset=utf-8") -> None:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            if "cache=1" not in self.path:  # (no-store keeps a page out of some engines' bfcache)
                self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._page()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            if urlsplit(self.path).path == "/t/e":
                if '"s":"blocked_' in body:  # an endpoint an ad blocker stops: the connection just drops
                    with collector.lock:
                        collector.refused.append(body)
                    self.close_connection = True
                    self.connection.close()
                    return
                collector.add(body, self.headers.get("Content-Type", ""))
                self._send(204)
            else:  # a form POST to a fixture page just renders the page
                self._page()

        def _page(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/t.js":
                self._send(200, script, "application/javascript")
                return
            name = url.path.removeprefix("/p/").split("/")[0]
            if not url.path.startswith("/p/") or name not in PAGES:
                if url.path != "/blank":
                    with collector.lock:
                        collector.visits.append(self.path)
                self._send(200, b"<!doctype html><title>elsewhere</title>elsewhere")
                return
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            port = self.server.server_address[1]
            here_host = (self.headers.get("Host") or "").split(":")[0]
            other_host = "localhost" if here_host == "127.0.0.1" else "127.0.0.1"
            site = query.get("site", "nosite")
            attrs = f' data-site="{site}"'
            if query.get("domains"):
                attrs += f' data-domains="{query["domains"]}"'
            if query.get("gpc"):
                attrs += ' data-respect-gpc="1"'
            if query.get("checkout"):
                attrs += f' data-checkout="{query["checkout"]}"'
            pre = "\n".join([RECORD_ERRORS] + [PRE[p] for p in query.get("pre", "").split(",") if p])
            # the script always comes from the "CourseSignal" origin, like the real snippet
            snippet = f'<script>{pre}</script>\n<script async src="http://127.0.0.1:{port}/t.js"{attrs}></script>'
            html = PAGES[name].format(
                snippet=snippet,
                site=site,
                here_host=here_host,
                to=html_escape(query.get("to", "")),
                other=f"http://{other_host}:{port}",
                links="".join(
                    f'<a class="target" href="{html_escape(url)}">{number}</a>'
                    for number, url in enumerate(CHECKOUT_TABLE)
                ),
            )
            self._send(200, html.encode())

    return Handler


# --------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def server() -> Iterator[tuple[int, Collector]]:
    assert TRACKER_JS.exists(), f"{TRACKER_JS} is missing: run `cd tracker && npm ci && npm run build`"
    collector = Collector()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(collector, TRACKER_JS.read_bytes()))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], collector
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session", params=ENGINES)
def driver(request: pytest.FixtureRequest, server: tuple[int, Collector]) -> Iterator[Driver]:
    """One browser per engine for the whole run, with the test server as its HTTP proxy: the made-up hosts
    (MADE_UP_HOSTS) reach it like any other."""
    port = server[0]
    origins = [f"http://{host}:{port}" for host in ("127.0.0.1", "localhost", *MADE_UP_HOSTS)]
    with launch(request.param, request, origins, proxy=f"127.0.0.1:{port}") as engine:
        yield engine


@dataclass
class Tab:
    """What a case works with: the driver on a fresh profile, the test server and the case's own site key."""

    d: Driver
    port: int
    collector: Collector
    site: str

    def url(self, page: str, host: str = "127.0.0.1", **query: str) -> str:
        params = "&".join(f"{k}={v}" for k, v in {"site": self.site, **query}.items())
        return f"http://{host}:{self.port}/p/{page}?{params}"

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 5.0, site: str = ""
    ) -> list[dict[str, Any]]:
        """Wait until at least `count` events of the site match; returns the matching events."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [e for e in self.collector.for_site(site or self.site) if predicate(e)]
            if len(matching) >= count or time.monotonic() > deadline:
                assert len(matching) >= count, (
                    f"[{self.d.engine}] expected {count} matching events, got {self.collector.for_site(self.site)}"
                )
                return matching
            time.sleep(0.05)

    def pageviews(self, count: int = 1) -> list[dict[str, Any]]:
        return self.wait_for(lambda e: e["n"] == "pageview", count)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.collector.for_site(self.site) if e["n"] == name]

    def cookie(self, name: str = "_csv") -> dict[str, Any] | None:
        return next((c for c in self.d.cookies() if c["name"] == name), None)

    def clear_cookies(self, seconds: float = 5) -> None:
        """Every cookie gone, and seen gone. WebKit takes a page's `document.cookie` writes to its network
        process asynchronously, so a clear that comes right after the page wrote one can land before the write
        does (seen once in CI): clear again until none is left."""
        deadline = time.monotonic() + seconds
        while True:
            self.d.clear_cookies()
            if not self.d.cookies() or time.monotonic() > deadline:
                return
            time.sleep(0.1)

    def stored(self, key: str = "_csv") -> str | None:
        value = self.d.eval(f"localStorage.getItem({key!r})")
        return None if value is None else str(value)

    def errors(self) -> list[str]:
        return list(self.d.eval("window.__errors"))

    def loaded(self) -> None:
        """The tracker ran on the current page."""
        wait_url(self.d, lambda _url: True)
        wait_until(self.d, "window.cs && window.cs.l")


def quiet(seconds: float = 0.6) -> None:
    """Give a beacon that should NOT be sent the time it would need to arrive."""
    time.sleep(seconds)


def mousedown(tab: Tab, css: str) -> None:
    tab.d.eval(f"document.querySelector({css!r}).dispatchEvent(new MouseEvent('mousedown', {{bubbles: true}}))")


def href(tab: Tab, css: str) -> str:
    return str(tab.d.eval(f"document.querySelector({css!r}).getAttribute('href')"))


# --------------------------------------------------------------------------------- the cases


def case_pageview_payload_and_visitor_id(t: Tab) -> None:
    url = t.url("basic")
    t.d.goto(t.url("from", to=quote(url, safe="")))
    t.d.click("#go")  # a same-origin link: the full referrer
    (event,) = t.pageviews()
    assert set(event) <= {"s", "n", "i", "v", "u", "r"}
    assert event["s"] == t.site
    assert ID_RE.match(event["i"])
    assert ID_RE.match(event["v"])
    assert event["u"] == url
    assert event["r"].startswith(f"http://127.0.0.1:{t.port}/p/from?")
    (_body, content_type) = t.collector.raw_for_site(t.site)[0]
    assert content_type.startswith("text/plain")
    # the id lives in a first-party cookie (1 year, Lax) and in localStorage
    wait_url(t.d, lambda u: u == url)
    c = t.cookie()
    assert c is not None
    assert c["value"] == event["v"]
    assert c["sameSite"] == "Lax"
    assert c["path"] == "/"
    assert 360 * 86400 < c["expires"] - time.time() < 366 * 86400
    assert t.stored() == event["v"]
    assert t.errors() == []

    # a second page gets a new event id and the same visitor id
    t.d.goto(url)
    first, second = t.pageviews(2)
    assert first["i"] != second["i"]
    assert first["v"] == second["v"]


def case_utm_and_referrer_carried(t: Tab) -> None:
    landing = t.url("basic", utm_source="newsletter", utm_campaign="launch")
    t.d.goto(t.url("from", host="localhost", to=quote(landing, safe="")))
    t.d.click("#go")  # from another site: its origin is the referrer
    (first,) = t.pageviews()
    assert first["u"] == landing
    assert first["r"] == f"http://localhost:{t.port}/"
    t.d.goto(t.url("basic"))
    _, second = t.pageviews(2)
    assert second["v"] == first["v"]
    assert "utm_source" not in second["u"]


def case_cookie_and_storage_restore_each_other(t: Tab) -> None:
    t.d.goto(t.url("basic"))
    vid = t.pageviews()[0]["v"]

    t.clear_cookies()  # cookie gone -> restored from localStorage
    assert t.cookie() is None
    t.d.reload()
    assert t.pageviews(2)[1]["v"] == vid
    assert t.cookie()["value"] == vid  # type: ignore[index]

    t.d.eval("localStorage.removeItem('_csv')")  # storage gone -> restored from the cookie
    t.d.reload()
    assert t.pageviews(3)[2]["v"] == vid
    assert t.stored() == vid


def case_email_captured_never_a_password(t: Tab) -> None:
    t.d.goto(t.url("form"))
    t.pageviews()
    t.d.type("#Email", "  Jane.Doe@Example.COM ")
    t.d.type("#password", "hunter2-secret-pw")
    t.d.type("#card", "4242424242424242")
    t.d.click("#submit")
    wait_url(t.d, lambda u: "/p/thanks" in u)
    (ident,) = t.wait_for(lambda e: e["n"] == "identify")
    assert ident["e"] == "jane.doe@example.com"
    assert ID_RE.match(ident["v"])
    t.pageviews(2)  # thanks page
    quiet(0.3)
    bodies = " ".join(body for body, _ in t.collector.raw_for_site(t.site))
    for secret in ("hunter2", "4242424242424242", "hidden@example.com"):
        assert secret not in bodies
    # change (on blur) and submit saw the same email: sent once
    assert len(t.events("identify")) == 1

    # an AJAX widget that never submits: caught when the field loses focus
    t.d.goto(t.url("form"))
    t.loaded()
    t.d.type("#ajax-email", "Widget@Example.com")
    t.d.click("#elsewhere")
    t.wait_for(lambda e: e.get("e") == "widget@example.com")


def case_identify_through_the_queue(t: Tab) -> None:
    t.d.goto(t.url("queue"))
    (queued,) = t.wait_for(lambda e: e["n"] == "identify")
    assert queued["e"] == "queue@example.com"
    t.d.eval("cs('identify', 'Later@Example.com'), cs('identify', 'not an email'), cs('nonsense'), 1")
    t.wait_for(lambda e: e.get("e") == "later@example.com")
    quiet(0.3)
    assert len(t.events("identify")) == 2
    assert t.errors() == []


def case_cross_domain_link_hands_the_id_over(t: Tab) -> None:
    t.d.goto(t.url("basic", domains="localhost"))
    vid = t.pageviews()[0]["v"]
    t.d.click("#other")
    landed_url = wait_url(t.d, lambda u: u.startswith("http://localhost:"))
    landed = t.wait_for(lambda e: e["u"].startswith("http://localhost"))[0]
    assert landed["v"] == vid
    assert "_csv" not in landed["u"]
    # the parameter is gone from the address bar; other params and the hash are kept
    wait_url(t.d, lambda u: "_csv" not in u)
    landed_url = t.d.url()
    assert "keep=1" in landed_url
    assert landed_url.endswith("#frag")
    assert t.stored() == vid
    assert t.cookie()["value"] == vid  # type: ignore[index]

    # a same-site link and an unrelated one are never decorated
    t.d.goto(t.url("basic", domains="localhost"))
    t.loaded()
    mousedown(t, "#same")
    assert "_csv" not in href(t, "#same")
    mousedown(t, "#unrelated")
    assert href(t, "#unrelated") == "https://example.org/x"


def case_cross_domain_form_action_is_decorated(t: Tab) -> None:
    t.d.goto(t.url("basic", domains="localhost"))
    vid = t.pageviews()[0]["v"]
    t.d.click("#xsubmit")
    wait_url(t.d, lambda u: u.startswith("http://localhost:") and "/p/thanks" in u)
    landed = t.wait_for(lambda e: e["u"].startswith("http://localhost"))[0]
    assert landed["v"] == vid
    wait_url(t.d, lambda u: "_csv" not in u)


def case_stale_or_malformed_handoff_is_ignored_but_stripped(t: Tab) -> None:
    stale = f"abcdefghijkl.{int(time.time()) - 1000}"
    t.d.goto(t.url("basic", host="localhost", _csv=stale, a="1"))
    (event,) = t.pageviews()
    assert event["v"] != "abcdefghijkl"
    assert "_csv" not in t.d.url()
    assert "a=1" in t.d.url()

    t.d.goto(f"http://localhost:{t.port}/p/basic?_csv=bad%21id.123&site={t.site}")
    assert t.pageviews(2)[1]["v"] == event["v"]
    assert "_csv" not in t.d.url()

    fresh = f"mnopqrstuvwx.{int(time.time())}"
    t.d.goto(t.url("basic", host="localhost", _csv=fresh))
    assert t.pageviews(3)[2]["v"] == "mnopqrstuvwx"


def case_stripe_link_gets_client_reference_id(t: Tab) -> None:
    t.d.goto(t.url("basic"))
    vid = t.pageviews()[0]["v"]
    t.loaded()
    t.d.click("#stripe-ref")  # already carries one: left alone (the page keeps these links from navigating)
    assert href(t, "#stripe-ref").endswith("client_reference_id=mine")
    t.d.click("#stripe span")  # the click lands on a child of the link
    assert href(t, "#stripe") == f"https://buy.stripe.com/test_123?prefilled_email=a%40b.co&client_reference_id={vid}"
    assert t.errors() == []


def case_checkout_click_beacon_survives_the_navigation(t: Tab) -> None:
    sales = t.url("checkout", pre="nofetch")  # no fetch on the page: whatever arrives came by sendBeacon
    t.d.goto(sales)
    vid = t.pageviews()[0]["v"]
    target = f"http://localhost:{t.port}/secure/4242/checkout/777"
    t.d.click("#teachable")  # the page is gone at once: the beacon must still arrive
    wait_url(t.d, lambda u: u == target)
    (click,) = t.wait_for(lambda e: e["n"] == "click")
    assert click["u"] == target
    assert click["r"] == sales  # the page the click left
    assert click["v"] == vid
    assert set(click) <= {"s", "n", "i", "v", "u", "r"}
    _, content_type = next(r for r in t.collector.raw_for_site(t.site) if '"n":"click"' in r[0])
    assert content_type.startswith("text/plain")

    # a form posting to a checkout is a click through too; a link or GET form to an ordinary page is not
    t.d.goto(sales)
    t.loaded()
    t.d.click("#paypal")
    wait_url(t.d, lambda u: u.endswith("/cart"))
    t.wait_for(lambda e: e["n"] == "click" and e["u"] == f"http://localhost:{t.port}/cart")
    t.d.goto(sales)
    t.loaded()
    t.d.click("#own")
    wait_url(t.d, lambda u: "/p/thanks" in u)
    t.d.goto(sales)
    t.loaded()
    t.d.click("#find")
    wait_url(t.d, lambda u: "/p/thanks" in u)
    quiet()
    assert len(t.events("click")) == 2


def case_tracker_and_server_agree_on_checkouts(t: Tab) -> None:
    t.d.goto(t.url("checkout", checkout=f"/blog-x,{OWN_CHECKOUT_PATH}"))
    t.pageviews()
    # every target clicked in place (the page's own handler keeps it from navigating; the tracker listens
    # in the capture phase, before it)
    t.d.eval(
        "document.querySelectorAll('a.target').forEach(a => {"
        " a.addEventListener('click', e => e.preventDefault()); a.click(); }), 1"
    )
    expected = [url for url in CHECKOUT_TABLE if is_checkout_url(url, own_paths=(OWN_CHECKOUT_PATH,))]
    assert len(expected) == 15
    t.wait_for(lambda e: e["n"] == "click", count=len(expected))
    quiet()
    # (Stripe links carry the visitor id by then)
    sent = [re.sub(r"\?client_reference_id=.*$", "", e["u"]) for e in t.events("click")]
    assert sorted(sent) == sorted(expected)


def case_mousedown_alone_sends_no_click(t: Tab) -> None:
    t.d.goto(t.url("checkout"))
    t.pageviews()
    mousedown(t, "#teachable")  # a right click, or a press that never became a click
    quiet()
    assert [e["n"] for e in t.collector.for_site(t.site)] == ["pageview"]


def case_spa_navigation(t: Tab) -> None:
    home = t.url("spa")
    t.d.goto(home)
    t.pageviews()
    t.d.click("#push")
    second = t.pageviews(2)[1]
    assert second["u"] == f"http://127.0.0.1:{t.port}/p/spa/step2?site={t.site}"
    assert second["r"] == home
    assert second["v"] == t.pageviews()[0]["v"]

    t.d.eval("history.replaceState({}, '', location.pathname + location.search + '#tab'), 1")  # same path
    t.d.eval("history.pushState({}, '', location.pathname + location.search + '#other'), 1")  # hash only
    quiet(0.3)
    assert len(t.events("pageview")) == 2
    t.d.eval(f"history.replaceState({{}}, '', '/p/spa/step3?site=' + {t.site!r}), 1")  # path changes
    assert t.pageviews(3)[2]["u"].endswith(f"/p/spa/step3?site={t.site}")
    # back (popstate) to step2's entry, then to home: the history is home, step2#tab, step3
    step2 = f"http://127.0.0.1:{t.port}/p/spa/step2?site={t.site}"
    t.d.back()
    t.wait_for(lambda e: e["n"] == "pageview" and e["u"] == step2 + "#tab")
    t.d.back()
    t.wait_for(lambda e: e["n"] == "pageview" and e["u"] == home, 2)
    assert t.errors() == []


def case_back_forward_cache_restore_is_a_pageview(t: Tab) -> None:
    home = t.url("spa", cache="1")
    t.d.goto(home)
    t.pageviews()
    t.d.eval("window.__before = 1")
    t.d.click("#away")
    wait_url(t.d, lambda u: "/p/thanks" in u)
    t.pageviews(2)
    t.d.back()
    wait_url(t.d, lambda u: u == home)
    back = t.pageviews(3)[2]
    assert back["u"] == home
    # the page came back from the back-forward cache (its script state survived), and pageshow counted it
    assert t.d.eval("window.__before") == 1, f"[{t.d.engine}] the page was loaded again, not restored"
    quiet(0.3)
    assert len(t.events("pageview")) == 3


def case_optout_by_call_and_by_url(t: Tab) -> None:
    t.d.goto(t.url("spa"))
    t.pageviews()
    t.d.eval("cs('optout'), 1")
    assert t.cookie() is None
    assert t.stored() is None
    assert t.stored("_cs_optout") == "1"
    assert t.cookie("_cs_optout")["value"] == "1"  # type: ignore[index]
    t.d.click("#push")
    t.d.eval("cs('identify', 'opted@out.com'), 1")
    t.d.reload()
    quiet()
    assert len(t.collector.for_site(t.site)) == 1

    # opting back in resumes tracking with a fresh id
    t.d.eval("cs('optin'), 1")
    t.d.reload()
    assert ID_RE.match(t.pageviews(2)[1]["v"])

    # ?cs_optout=1 in a fresh browser: nothing is sent, nothing is stored
    t.d.fresh()
    site2 = t.site + "_url"
    t.d.goto(t.url("spa", site=site2, cs_optout="1"))
    t.loaded()
    t.d.click("#push")
    t.d.goto(t.url("spa", site=site2))
    t.loaded()
    quiet()
    assert t.collector.for_site(site2) == []
    assert t.cookie() is None
    assert t.stored() is None


def case_global_privacy_control_when_asked(t: Tab) -> None:
    t.d.goto(t.url("queue", pre="gpc", gpc="1"))
    t.d.eval("cs('identify', 'gpc@example.com'), 1")
    quiet()
    assert t.collector.for_site(t.site) == []
    assert t.cookie() is None
    assert t.stored() is None
    # without data-respect-gpc the signal is not used by the script
    t.d.goto(t.url("queue", pre="gpc"))
    t.pageviews()


def case_storage_that_throws_still_sends_without_v(t: Tab) -> None:
    t.d.goto(t.url("queue", pre="block"))
    (event,) = t.pageviews()
    assert "v" not in event
    assert ID_RE.match(event["i"])
    (ident,) = t.wait_for(lambda e: e["n"] == "identify")
    assert "v" not in ident
    assert ident["e"] == "queue@example.com"
    assert t.errors() == []


def case_broken_page_and_blocked_endpoint_keep_working(t: Tab) -> None:
    t.site = "blocked_" + t.site  # the endpoint drops this site's requests
    t.d.goto(t.url("broken", domains="localhost", pre="nobeacon"))  # no sendBeacon: fetch, which fails
    t.loaded()
    t.d.click("#btn")
    assert t.d.eval("document.getElementById('status').textContent") == "clicked"
    t.d.eval("cs('identify', 'x@example.com'), history.pushState({}, '', '/p/broken/2'), 1")
    quiet(0.3)
    # the only page error is the page's own bug; no unhandled rejection from the tracker
    errors = t.errors()
    assert len(errors) == 1, errors
    assert "undefinedFunctionOfTheCreator" in errors[0]
    t.d.click("#other")  # decoration while the collector is blocked
    wait_url(t.d, lambda u: u.startswith("http://localhost:"))
    with t.collector.lock:
        refused = [body for body in t.collector.refused if t.site in body]
    assert len(refused) >= 3, "the collect requests were never attempted"
    assert t.collector.for_site(t.site) == []


def case_cookie_goes_on_the_registrable_domain_but_never_a_platform_suffix(t: Tab) -> None:
    # made-up hosts, sent through the test server as the engine's HTTP proxy (see the `driver` fixture)
    t.d.goto(t.url("basic", host="www.creator.test"))
    vid = t.pageviews(1)[0]["v"]
    cookie = t.cookie()
    assert cookie is not None
    assert (cookie["domain"], cookie["value"]) == (".creator.test", vid)
    assert not [c for c in t.d.cookies() if c["name"].startswith("_cs_p")], "the domain probe was left behind"
    # a sibling subdomain reads the same cookie
    t.d.goto(t.url("basic", host="shop.creator.test"))
    assert t.pageviews(2)[1]["v"] == vid

    t.d.goto(t.url("basic", host="my-course.herokuapp.com"))
    t.pageviews(3)
    assert {c["domain"] for c in t.d.cookies() if c["name"] == "_csv"} == {".my-course.herokuapp.com"}


CASES = [value for name, value in list(globals().items()) if name.startswith("case_")]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.removeprefix("case_") for c in CASES])
def test_tracker(driver: Driver, server: tuple[int, Collector], case: Callable[[Tab], None]) -> None:
    driver.fresh()
    tab = Tab(driver, server[0], server[1], "site_" + uuid.uuid4().hex[:12])
    case(tab)
