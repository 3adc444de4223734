"""Browser fixtures: Debian's chromium through Playwright, and the real app served on a local port."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import CHROMIUM, require

# Where browser tests keep their screenshots (CI keeps test-artifacts/).
SCREENSHOTS = Path(
    os.environ.get("COURSESIGNAL_SCREENSHOTS", Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots")
)
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
# `.test` hosts resolve to the loopback in the session's Chromium, so a creator's site gets its own origin
# without DNS (the tracker's case table reaches its made-up hosts through a proxy instead, in every engine).
RESOLVER_RULES = "MAP *.creator.test 127.0.0.1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-features=HttpsUpgrades",
    f"--host-resolver-rules={RESOLVER_RULES}",
]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test run in several engines (through a `driver` fixture of tests/e2e/engines/drivers.py): a failed
    assertion's message starts with the engine's name, e.g. `[webkit] ...`."""
    engine = getattr(getattr(item, "funcargs", {}).get("driver"), "engine", None)
    try:
        return (yield)
    except AssertionError as e:
        message = str(e)
        if engine is not None and not message.startswith(f"[{engine}]"):
            e.args = (f"[{engine}] {message}",)  # the same exception, so its traceback still ends in the test
        raise


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require(Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(user_agent=DESKTOP_UA)
    yield context.new_page()
    context.close()


@pytest.fixture
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The real app on 127.0.0.1:<free port>, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@contextmanager
def creator_pages(body: bytes, host: str) -> Iterator[str]:
    """Serve `body` for every GET and POST, as a creator's own site on `host` (another origin than the app,
    resolved to 127.0.0.1 by the browser's host-resolver rules); yields the site's origin."""

    class CreatorPages(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _page(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _page
        do_POST = _page

    server = ThreadingHTTPServer(("127.0.0.1", 0), CreatorPages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
