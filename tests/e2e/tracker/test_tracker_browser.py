"""Browser tests for the first-party tracking script (adapters/web/static/t.js) in Debian's chromium.

Self-contained: a threaded http.server on 127.0.0.1 serves fixture pages, the built t.js and a
`POST /t/e` collector that records every body and answers 204. The same server reached as
`127.0.0.1:PORT` and as `localhost:PORT` gives two origins (separate cookies and storage) for the
cross-domain hand-off. Every test uses its own site key, so events are filtered per test.

Skips with a reason when chromium is missing, except with CI=true, where it fails.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from html import escape as html_escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from core.domain.checkout import is_checkout_url
from tests.e2e.conftest import DESKTOP_UA

pytestmark = pytest.mark.browser

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


# --------------------------------------------------------------------------------- fixture pages

# {snippet} is replaced by the tracker tag built from the query string (site, domains, gpc).
PAGES = {
    "basic": """<!doctype html><html><head><title>Basic page</title>{snippet}</head><body>
<h1>Basic</h1>
<a id="other" href="{other}/p/basic?site={site}&amp;domains={here_host}&amp;keep=1#frag">other domain</a>
<a id="same" href="/p/basic?site={site}">same site</a>
<a id="stripe" href="https://buy.stripe.com/test_123?prefilled_email=a%40b.co"><span>buy</span></a>
<a id="stripe-ref" href="https://checkout.stripe.com/c/pay/cs_test?client_reference_id=mine">pay</a>
<a id="unrelated" href="https://example.org/x">unrelated</a>
<form id="xform" method="post" action="{other}/p/thanks?site={site}"><button id="xsubmit">go</button></form>
</body></html>""",
    "form": """<!doctype html><html><head><title>Opt-in</title>{snippet}</head><body>
<form id="f" method="post" action="/p/thanks?site={site}">
  <input name="Email" id="Email" value="">
  <input type="password" name="password" id="password">
  <input type="hidden" name="email_hidden" value="hidden@example.com">
  <input name="cc-number" autocomplete="cc-number email" value="">
  <input type="text" name="first_name" value="Jane">
  <button id="submit" type="submit">Join</button>
</form>
<input type="email" id="ajax-email" placeholder="AJAX widget, never submitted">
</body></html>""",
    "thanks": """<!doctype html><html><head><title>Thanks</title>{snippet}</head><body>ok</body></html>""",
    "checkout": """<!doctype html><html><head><title>Sales page</title>{snippet}</head><body>
<a id="teachable" href="https://sso.teachable.com/secure/4242/checkout/777">enrol</a>
<a id="own" href="/p/thanks?site={site}">thanks (not a checkout)</a>
<form id="pay" method="post" action="https://www.paypal.com/cgi-bin/webscr"><button id="paypal">PayPal</button></form>
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
    """Thread-safe record of every body POSTed to /t/e."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[dict[str, Any]] = []
        self.raw: list[tuple[str, str, str]] = []  # (body, content-type, user-agent)

    def add(self, body: str, content_type: str, user_agent: str) -> None:
        with self.lock:
            self.raw.append((body, content_type, user_agent))
            try:
                self.events.append(json.loads(body))
            except ValueError:
                self.events.append({"_invalid": body})

    def for_site(self, site: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e.get("s") == site]

    def raw_for_site(self, site: str) -> list[tuple[str, str, str]]:
        with self.lock:
            return [r for r in self.raw if f'"s":"{site}"' in r[0]]


def make_handler(collector: Collector, script: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep pytest output quiet
            pass

        def _send(self, status: int, body: bytes = b"", content_type: str = "text/html; charset=utf-8") -> None:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
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
                collector.add(body, self.headers.get("Content-Type", ""), self.headers.get("User-Agent", ""))
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
                self._send(404, b"not found", "text/plain")
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
            # the script always comes from the "CourseSignal" origin, like the real snippet
            snippet = f'<script async src="http://127.0.0.1:{port}/t.js"{attrs}></script>'
            html = PAGES[name].format(
                snippet=snippet,
                site=site,
                here_host=here_host,
                other=f"http://{other_host}:{port}",
                links="".join(
                    f'<a class="target" href="{html_escape(url)}">{number}</a>'
                    for number, url in enumerate(CHECKOUT_TABLE)
                ),
            )
            self._send(200, html.encode())

    return Handler


# --------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
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


@pytest.fixture
def new_context(browser: Any) -> Iterator[Callable[..., Any]]:
    """Factory for browser contexts with a desktop Chrome UA (the real collector drops HeadlessChrome)."""
    contexts: list[Any] = []

    def make(**kwargs: Any) -> Any:
        ctx = browser.new_context(user_agent=DESKTOP_UA, **kwargs)
        ctx.set_default_timeout(5000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def site() -> str:
    return "site_" + uuid.uuid4().hex[:12]


@pytest.fixture
def port(server: tuple[int, Collector]) -> int:
    return server[0]


@pytest.fixture
def collector(server: tuple[int, Collector]) -> Collector:
    return server[1]


def wait_for(
    collector: Collector, site: str, predicate: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Wait until at least `count` events of `site` match; returns the matching events."""
    deadline = time.monotonic() + timeout
    while True:
        matching = [e for e in collector.for_site(site) if predicate(e)]
        if len(matching) >= count or time.monotonic() > deadline:
            assert len(matching) >= count, f"expected {count} matching events, got {collector.for_site(site)}"
            return matching
        time.sleep(0.05)


def pageviews(collector: Collector, site: str, count: int = 1) -> list[dict[str, Any]]:
    return wait_for(collector, site, lambda e: e["n"] == "pageview", count)


def quiet(seconds: float = 0.6) -> None:
    """Give a beacon that should NOT be sent the time it would need to arrive."""
    time.sleep(seconds)


def cookie(ctx: Any, name: str = "_csv", url: str | None = None) -> dict[str, Any] | None:
    return next((c for c in ctx.cookies(url) if c["name"] == name), None)


def stored(page: Any, key: str = "_csv") -> str | None:
    return page.evaluate("k => localStorage.getItem(k)", key)


# --------------------------------------------------------------------------------- tests


def test_pageview_payload_shape(new_context, port, collector, site):
    page = new_context().new_page()
    url = f"http://127.0.0.1:{port}/p/basic?site={site}"
    page.goto(url, referer="https://news.example.com/post")
    (event,) = pageviews(collector, site)

    assert set(event) <= {"s", "n", "i", "v", "u", "r"}
    assert event["s"] == site
    assert event["n"] == "pageview"
    assert ID_RE.match(event["i"])
    assert ID_RE.match(event["v"])
    assert event["u"] == url
    assert event["r"] == "https://news.example.com/post"
    (_body, content_type, user_agent) = collector.raw_for_site(site)[0]
    assert content_type.startswith("text/plain")
    assert "HeadlessChrome" not in user_agent
    # the id lives in a first-party cookie (1 year, Lax) and in localStorage
    c = cookie(page.context)
    assert c is not None
    assert c["value"] == event["v"]
    assert c["sameSite"] == "Lax"
    assert c["path"] == "/"
    assert 360 * 86400 < c["expires"] - time.time() < 366 * 86400
    assert stored(page) == event["v"]

    # a second page gets a new event id and the same visitor id
    page.goto(url)
    first, second = pageviews(collector, site, 2)
    assert first["i"] != second["i"]
    assert first["v"] == second["v"]


def test_utm_visit_then_return_later_with_same_id(new_context, port, collector, site):
    ctx = new_context()
    page = ctx.new_page()
    landing = f"http://127.0.0.1:{port}/p/basic?site={site}&utm_source=newsletter&utm_campaign=launch"
    page.goto(landing)
    (first,) = pageviews(collector, site)
    assert "utm_source=newsletter" in first["u"]
    state = ctx.storage_state()
    ctx.close()

    later = new_context(storage_state=state).new_page()
    later.goto(f"http://127.0.0.1:{port}/p/basic?site={site}")
    _, second = pageviews(collector, site, 2)
    assert second["v"] == first["v"]
    assert "utm_source" not in second["u"]


def test_cookie_and_storage_restore_each_other(new_context, port, collector, site):
    ctx = new_context()
    page = ctx.new_page()
    url = f"http://127.0.0.1:{port}/p/basic?site={site}"
    page.goto(url)
    vid = pageviews(collector, site)[0]["v"]

    ctx.clear_cookies()  # cookie gone -> restored from localStorage
    page.reload()
    assert pageviews(collector, site, 2)[1]["v"] == vid
    assert cookie(ctx)["value"] == vid

    page.evaluate("localStorage.removeItem('_csv')")  # storage gone -> restored from the cookie
    page.reload()
    assert pageviews(collector, site, 3)[2]["v"] == vid
    assert stored(page) == vid


def test_cross_domain_link_keeps_id_and_strips_param(new_context, port, collector, site):
    ctx = new_context()
    page = ctx.new_page()
    page.goto(f"http://127.0.0.1:{port}/p/basic?site={site}&domains=localhost")
    vid = pageviews(collector, site)[0]["v"]

    page.click("#other")
    page.wait_for_url(re.compile(r"^http://localhost:"))
    landed = wait_for(collector, site, lambda e: e["u"].startswith("http://localhost"))[0]
    assert landed["v"] == vid
    assert "_csv" not in landed["u"]
    # the parameter is gone from the address bar; other params and the hash are kept
    assert "_csv" not in page.url
    assert "keep=1" in page.url
    assert page.url.endswith("#frag")
    assert stored(page) == vid
    assert cookie(ctx, url=page.url)["value"] == vid

    # the same-site link is never decorated
    page.goto(f"http://127.0.0.1:{port}/p/basic?site={site}&domains=localhost")
    page.dispatch_event("#same", "mousedown")
    assert "_csv" not in page.get_attribute("#same", "href")
    page.dispatch_event("#unrelated", "mousedown")
    assert page.get_attribute("#unrelated", "href") == "https://example.org/x"


def test_cross_domain_form_action_is_decorated(new_context, port, collector, site):
    page = new_context().new_page()
    page.goto(f"http://127.0.0.1:{port}/p/basic?site={site}&domains=localhost")
    vid = pageviews(collector, site)[0]["v"]
    page.click("#xsubmit")
    page.wait_for_url(re.compile(r"^http://localhost:.*/p/thanks"))
    landed = wait_for(collector, site, lambda e: e["u"].startswith("http://localhost"))[0]
    assert landed["v"] == vid
    assert "_csv" not in page.url


def test_stale_or_malformed_param_is_ignored_but_stripped(new_context, port, collector, site):
    page = new_context().new_page()
    stale = f"abcdefghijkl.{int(time.time()) - 1000}"
    page.goto(f"http://localhost:{port}/p/basic?site={site}&_csv={stale}&a=1")
    (event,) = pageviews(collector, site)
    assert event["v"] != "abcdefghijkl"
    assert "_csv" not in page.url
    assert "a=1" in page.url

    page.goto(f"http://localhost:{port}/p/basic?_csv=bad%21id.123&site={site}")
    second = pageviews(collector, site, 2)[1]
    assert second["v"] == event["v"]
    assert "_csv" not in page.url
    assert f"site={site}" in page.url

    fresh = f"mnopqrstuvwx.{int(time.time())}"
    page.goto(f"http://localhost:{port}/p/basic?site={site}&_csv={fresh}")
    assert pageviews(collector, site, 3)[2]["v"] == "mnopqrstuvwx"


def test_stripe_link_gets_client_reference_id(new_context, port, collector, site):
    ctx = new_context()
    requested: list[str] = []

    def fake_stripe(route: Any) -> None:
        requested.append(route.request.url)
        route.fulfill(status=200, body="<title>stripe</title>", content_type="text/html")

    ctx.route(re.compile(r"^https://(buy|checkout)\.stripe\.com/"), fake_stripe)
    page = ctx.new_page()
    page.goto(f"http://127.0.0.1:{port}/p/basic?site={site}")
    vid = pageviews(collector, site)[0]["v"]

    page.dispatch_event("#stripe-ref", "mousedown")  # already carries one: left alone
    assert page.get_attribute("#stripe-ref", "href").endswith("client_reference_id=mine")

    page.click("#stripe span")  # the click lands on a child of the link
    page.wait_for_url(re.compile(r"^https://buy\.stripe\.com/"))
    assert requested[-1] == f"https://buy.stripe.com/test_123?prefilled_email=a%40b.co&client_reference_id={vid}"


def test_form_submit_sends_identify_without_secrets(new_context, port, collector, site):
    page = new_context().new_page()
    page.goto(f"http://127.0.0.1:{port}/p/form?site={site}")
    pageviews(collector, site)
    page.fill("#Email", "  Jane.Doe@Example.COM ")
    page.fill("#password", "hunter2-secret-pw")
    page.fill("input[name=cc-number]", "4242424242424242")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/p/thanks"))
    (ident,) = wait_for(collector, site, lambda e: e["n"] == "identify")
    assert ident["e"] == "jane.doe@example.com"
    assert ID_RE.match(ident["v"])
    assert ID_RE.match(ident["i"])
    pageviews(collector, site, 2)  # thanks page
    quiet(0.3)
    bodies = " ".join(body for body, _, _ in collector.raw_for_site(site))
    for secret in ("hunter2", "4242424242424242", "hidden@example.com"):
        assert secret not in bodies
    # change (on blur) and submit saw the same email: sent once
    assert len([e for e in collector.for_site(site) if e["n"] == "identify"]) == 1

    # an AJAX widget that never submits: caught by the change listener
    page.goto(f"http://127.0.0.1:{port}/p/form?site={site}")
    page.fill("#ajax-email", "Widget@Example.com")
    page.dispatch_event("#ajax-email", "change")
    wait_for(collector, site, lambda e: e.get("e") == "widget@example.com")


def test_identify_by_hand_through_the_queue(new_context, port, collector, site):
    page = new_context().new_page()
    page.goto(f"http://127.0.0.1:{port}/p/queue?site={site}")
    (queued,) = wait_for(collector, site, lambda e: e["n"] == "identify")
    assert queued["e"] == "queue@example.com"
    page.evaluate("cs('identify', 'Later@Example.com'); cs('identify', 'not an email'); cs('nonsense')")
    wait_for(collector, site, lambda e: e.get("e") == "later@example.com")
    quiet(0.3)
    assert len([e for e in collector.for_site(site) if e["n"] == "identify"]) == 2


BLOCK_STORAGE = """
Object.defineProperty(Document.prototype, 'cookie', {
  get() { throw new DOMException('blocked', 'SecurityError'); },
  set(v) { throw new DOMException('blocked', 'SecurityError'); },
  configurable: true,
});
Object.defineProperty(window, 'localStorage', {
  get() { throw new DOMException('blocked', 'SecurityError'); },
  configurable: true,
});
"""


def test_cookies_and_storage_blocked_still_sends_without_v(new_context, port, collector, site):
    ctx = new_context()
    ctx.add_init_script(BLOCK_STORAGE)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"http://127.0.0.1:{port}/p/queue?site={site}")
    (event,) = pageviews(collector, site)
    assert "v" not in event
    assert ID_RE.match(event["i"])
    (ident,) = wait_for(collector, site, lambda e: e["n"] == "identify")
    assert "v" not in ident
    assert ident["e"] == "queue@example.com"
    assert errors == []


def test_optout_by_call_and_by_url(new_context, port, collector, site):
    ctx = new_context()
    page = ctx.new_page()
    page.goto(f"http://127.0.0.1:{port}/p/spa?site={site}")
    pageviews(collector, site)
    page.evaluate("cs('optout')")
    assert cookie(ctx) is None
    assert stored(page) is None
    assert stored(page, "_cs_optout") == "1"
    assert cookie(ctx, "_cs_optout")["value"] == "1"
    page.click("#push")
    page.evaluate("cs('identify', 'opted@out.com')")
    page.reload()
    quiet()
    assert len(collector.for_site(site)) == 1

    # opting back in resumes tracking with a fresh id
    page.evaluate("cs('optin')")
    page.reload()
    assert ID_RE.match(pageviews(collector, site, 2)[1]["v"])

    # ?cs_optout=1 in a fresh browser: nothing is sent, nothing is stored
    other = new_context()
    page2 = other.new_page()
    site2 = site + "_url"
    page2.goto(f"http://127.0.0.1:{port}/p/spa?site={site2}&cs_optout=1")
    page2.click("#push")
    page2.goto(f"http://127.0.0.1:{port}/p/spa?site={site2}")
    quiet()
    assert collector.for_site(site2) == []
    assert cookie(other) is None
    assert stored(page2) is None


def test_global_privacy_control_is_respected_when_asked(new_context, port, collector, site):
    ctx = new_context()
    ctx.add_init_script("Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})")
    page = ctx.new_page()
    page.goto(f"http://127.0.0.1:{port}/p/queue?site={site}&gpc=1")
    page.evaluate("cs('identify', 'gpc@example.com')")
    quiet()
    assert collector.for_site(site) == []
    assert cookie(ctx) is None
    assert stored(page) is None
    # without data-respect-gpc the signal is not used by the script
    page.goto(f"http://127.0.0.1:{port}/p/queue?site={site}")
    pageviews(collector, site)


def test_spa_navigation_sends_pageviews(new_context, port, collector, site):
    page = new_context().new_page()
    home = f"http://127.0.0.1:{port}/p/spa?site={site}"
    page.goto(home)
    pageviews(collector, site)
    page.click("#push")
    second = pageviews(collector, site, 2)[1]
    assert second["u"] == f"http://127.0.0.1:{port}/p/spa/step2?site={site}"
    assert second["r"] == home
    assert second["v"] == pageviews(collector, site)[0]["v"]

    page.evaluate("history.replaceState({}, '', location.pathname + location.search + '#tab')")  # same path
    page.evaluate("history.pushState({}, '', location.pathname + location.search + '#other')")  # hash only
    quiet(0.3)
    assert len(pageviews(collector, site)) == 2
    page.evaluate(f"history.replaceState({{}}, '', '/p/spa/step3?site=' + {site!r})")  # path changes
    assert pageviews(collector, site, 3)[2]["u"].endswith(f"/p/spa/step3?site={site}")
    page.go_back()  # popstate back to step2 (the hash entries share its path+search)
    page.go_back()
    page.go_back()
    wait_for(collector, site, lambda e: e["u"] == home, 2)


def test_broken_page_and_blocked_endpoint_keep_working(new_context, port, collector, site):
    ctx = new_context()
    # no sendBeacon: the script falls back to fetch, which the blocked route rejects
    ctx.add_init_script(
        "delete Navigator.prototype.sendBeacon;"
        "window.__rejections = 0; addEventListener('unhandledrejection', () => window.__rejections++);"
    )
    aborted: list[str] = []

    def block(route: Any) -> None:
        aborted.append(route.request.method)
        route.abort()

    ctx.route(re.compile(r"/t/e$"), block)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"http://127.0.0.1:{port}/p/broken?site={site}&domains=localhost")
    page.wait_for_function("() => window.cs && window.cs.l")
    page.click("#btn")
    assert page.text_content("#status") == "clicked"
    page.evaluate("cs('identify', 'x@example.com'); history.pushState({}, '', '/p/broken/2')")
    page.click("#other")  # decoration while the collector is blocked
    page.wait_for_url(re.compile(r"^http://localhost:"))
    quiet(0.3)
    assert aborted, "the collect request was never attempted"
    assert collector.for_site(site) == []
    # the only page error is the page's own bug; no unhandled rejection from the tracker
    assert len(errors) == 1, errors
    assert "undefinedFunctionOfTheCreator" in errors[0]
    assert page.evaluate("window.__rejections") == 0


def test_cookie_goes_on_the_registrable_domain_but_never_a_platform_suffix(new_context, port, collector, site):
    ctx = new_context()
    page = ctx.new_page()
    page.goto(f"http://www.creator.test:{port}/p/basic?site={site}")
    vid = pageviews(collector, site)[0]["v"]
    c = cookie(ctx)
    assert c["domain"] == ".creator.test"
    assert c["value"] == vid
    assert not [c for c in ctx.cookies() if c["name"].startswith("_cs_p")]  # probe cleaned up
    # a sibling subdomain reads the same cookie
    page.goto(f"http://shop.creator.test:{port}/p/basic?site={site}")
    assert pageviews(collector, site, 2)[1]["v"] == vid

    page.goto(f"http://my-course.herokuapp.com:{port}/p/basic?site={site}")
    pageviews(collector, site, 3)
    domains = {c["domain"] for c in ctx.cookies() if c["name"] == "_csv"}
    assert ".herokuapp.com" not in domains
    assert domains == {".creator.test", ".my-course.herokuapp.com"}


def _open_targets(ctx: Any) -> list[str]:
    """Answers every external link target with a blank page; returns the URLs requested."""
    requested: list[str] = []

    def fulfil(route: Any) -> None:
        requested.append(route.request.url)
        route.fulfill(status=200, body="<title>elsewhere</title>", content_type="text/html")

    ctx.route(re.compile(r"^https://"), fulfil)
    return requested


def test_a_click_through_to_a_checkout_is_beaconed_and_survives_the_navigation(new_context, port, collector, site):
    ctx = new_context()
    requested = _open_targets(ctx)
    # no fetch on the page: whatever arrives came by sendBeacon
    ctx.add_init_script("window.fetch = () => Promise.reject(new Error('no fetch here'));")
    page = ctx.new_page()
    sales = f"http://127.0.0.1:{port}/p/checkout?site={site}"
    page.goto(sales)
    vid = pageviews(collector, site)[0]["v"]

    page.click("#teachable")  # the page is gone at once: the beacon must still arrive
    page.wait_for_url("https://sso.teachable.com/**")
    (click,) = wait_for(collector, site, lambda e: e["n"] == "click")
    assert click["u"] == "https://sso.teachable.com/secure/4242/checkout/777"
    assert click["r"] == sales  # the page the click left
    assert click["v"] == vid
    assert ID_RE.match(click["i"])
    assert set(click) <= {"s", "n", "i", "v", "u", "r"}
    assert requested == ["https://sso.teachable.com/secure/4242/checkout/777"]
    _, content_type, _ = next(r for r in collector.raw_for_site(site) if '"n":"click"' in r[0])
    assert content_type.startswith("text/plain")

    # a form posting to a checkout is a click through too; a link or GET form to an ordinary page is not
    page.goto(sales)
    page.click("#paypal")
    page.wait_for_url("https://www.paypal.com/**")
    wait_for(collector, site, lambda e: e["n"] == "click" and e["u"] == "https://www.paypal.com/cgi-bin/webscr")
    page.goto(sales)
    page.click("#own")
    page.wait_for_url(re.compile(r"/p/thanks"))
    page.goto(sales)
    page.click("#find")
    page.wait_for_url(re.compile(r"/p/thanks"))
    quiet()
    assert len([e for e in collector.for_site(site) if e["n"] == "click"]) == 2


def test_the_tracker_and_the_server_agree_on_what_a_checkout_is(new_context, port, collector, site):
    page = new_context().new_page()
    page.goto(f"http://127.0.0.1:{port}/p/checkout?site={site}&checkout=/blog-x,{OWN_CHECKOUT_PATH}")
    pageviews(collector, site)
    # every target clicked in place (the page's own handler keeps it from navigating; the tracker listens
    # in the capture phase, before it)
    page.evaluate(
        "document.querySelectorAll('a.target').forEach(a => {"
        " a.addEventListener('click', e => e.preventDefault()); a.click(); })"
    )
    expected = [url for url in CHECKOUT_TABLE if is_checkout_url(url, own_paths=(OWN_CHECKOUT_PATH,))]
    assert len(expected) == 15
    clicks = wait_for(collector, site, lambda e: e["n"] == "click", count=len(expected))
    quiet()
    # (Stripe links carry the visitor id by then)
    sent = [re.sub(r"\?client_reference_id=.*$", "", e["u"]) for e in collector.for_site(site) if e["n"] == "click"]
    assert sorted(sent) == sorted(expected)
    assert len(clicks) == len(expected)


def test_a_mousedown_alone_sends_no_click(new_context, port, collector, site):
    page = new_context().new_page()
    page.goto(f"http://127.0.0.1:{port}/p/checkout?site={site}")
    pageviews(collector, site)
    page.dispatch_event("#teachable", "mousedown")  # a right click, or a press that never became a click
    quiet()
    assert [e["n"] for e in collector.for_site(site)] == ["pageview"]
