"""One small driver interface over three browser engines, so one table of cases runs in each.

- chromium: Debian's chromium through Playwright (as every other browser test here);
- firefox:  Debian's firefox-esr over WebDriver BiDi, through puppeteer-core in a Node helper
            (firefox.mjs, one JSON request and answer per line on its stdin/stdout);
- webkit:   Debian's WebKitGTK through Selenium's webdriver.WebKitGTK and the packaged WebKitWebDriver,
            on an Xvfb display started here.

Each engine is started once per test session; `fresh()` gives a case a clean profile (a new Playwright context,
a new BiDi user context, and for WebKit, whose WebDriver session is one profile, every cookie and the
storage of the test origins cleared). Everything a case needs beyond these few calls (requests, beacons) is
read server-side, never through an engine-specific hook. `launch()` is the one way a test module starts an
engine; a download lands in a folder of the driver's own, whatever the engine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import pytest

from tests.conftest import CHROMIUM, require
from tests.e2e.conftest import CHROMIUM_ARGS, DESKTOP_UA

HERE = Path(__file__).resolve().parent
FIREFOX = os.environ.get("COURSESIGNAL_TEST_FIREFOX", "/usr/bin/firefox-esr")
WEBKIT_DRIVER = os.environ.get("COURSESIGNAL_TEST_WEBKITDRIVER", "/usr/bin/WebKitWebDriver")
PUPPETEER = HERE / "node_modules" / "puppeteer-core"
ENGINES = ("chromium", "firefox", "webkit")


class Driver(Protocol):
    engine: str

    def fresh(self) -> None:
        """A clean profile: no cookies, no storage, one blank page."""

    def goto(self, url: str) -> None:
        """Navigate and wait for the load event."""

    def eval(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""

    def click(self, css: str) -> None:
        """A real mouse click (mousedown, mouseup, click) on the first match."""

    def type(self, css: str, text: str) -> None:
        """Focus the field and type, key by key."""

    def back(self) -> None:
        """history.back(), without waiting for a load event (a back-forward cache restore has none)."""

    def reload(self) -> None: ...

    def url(self) -> str: ...

    def cookies(self) -> list[dict[str, Any]]:
        """The cookies the current page sees: name, value, domain, path, expires (unix seconds), sameSite."""

    def clear_cookies(self) -> None: ...

    def set_cookie(self, url: str, name: str, value: str) -> None:
        """A cookie for `url`'s host (a signed-in creator's session, say)."""

    def resize(self, width: int, height: int) -> None:
        """The page's viewport (innerWidth x innerHeight) in CSS pixels."""

    def download(self, css: str) -> Path:
        """Click the link that downloads a file; the file as the browser saved it (under the name it chose)."""

    def close(self) -> None: ...


def wait_until(driver: Driver, expression: str, timeout: float = 5.0) -> Any:
    """Poll a JavaScript expression until it is truthy (navigation may be under way meanwhile)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with suppress(Exception):
            last = driver.eval(expression)
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"[{driver.engine}] still false after {timeout}s: {expression} (last {last!r})")


def wait_url(driver: Driver, predicate: Callable[[str], bool], timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    url = ""
    while time.monotonic() < deadline:
        with suppress(Exception):
            url = driver.url()
            if predicate(url) and driver.eval("document.readyState") == "complete":
                return url
        time.sleep(0.05)
    raise AssertionError(f"[{driver.engine}] never reached the expected URL (at {url})")


PARTIAL = (".part", ".wkdownload", ".crdownload")  # what engines write while a download is under way


def await_download(engine: str, folder: Path, click: Callable[[], None], timeout: float = 10.0) -> Path:
    """Click, then wait for one new complete file in the folder the engine saves downloads to."""
    before = set(folder.iterdir())
    click()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = set(folder.iterdir()) - before
        done = [f for f in new if f.suffix not in PARTIAL and f.stat().st_size]
        if done and not [f for f in new if f.suffix in PARTIAL]:
            assert len(done) == 1, f"[{engine}] one click saved {len(done)} files: {done}"
            return done[0]
        time.sleep(0.05)
    raise AssertionError(f"[{engine}] no download arrived in {folder} after {timeout}s")


# --------------------------------------------------------------------------------- chromium


class ChromiumDriver:
    engine = "chromium"

    def __init__(self, browser_type: Any, proxy: str | None = None) -> None:
        """`browser_type`: Playwright's chromium of the session (one Playwright per process: the `browser`
        fixture's), which launches a browser of its own here with the back-forward cache left on (Playwright
        turns it off by default; the tracker's case table needs it as users have it)."""
        require(Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM} (apt-get install chromium)")
        self.browser = browser_type.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            ignore_default_args=["--disable-back-forward-cache"],
            proxy={"server": f"http://{proxy}"} if proxy else None,
        )
        self._context: Any = None
        self._page: Any = None
        self._downloads = Path(tempfile.mkdtemp(prefix="chromium-downloads-"))

    def fresh(self) -> None:
        if self._context:
            self._context.close()
        self._context = self.browser.new_context(user_agent=DESKTOP_UA)
        self._context.set_default_timeout(5000)
        self._page = self._context.new_page()

    def goto(self, url: str) -> None:
        self._page.goto(url)

    def eval(self, expression: str) -> Any:
        return self._page.evaluate(f"() => ({expression})")

    def click(self, css: str) -> None:
        self._page.click(css, no_wait_after=True)

    def type(self, css: str, text: str) -> None:
        self._page.click(css)
        self._page.keyboard.type(text)

    def back(self) -> None:
        self.eval("history.back(), 1")

    def reload(self) -> None:
        self._page.reload()

    def url(self) -> str:
        return str(self.eval("location.href"))  # (Playwright's page.url lags a click's navigation)

    def cookies(self) -> list[dict[str, Any]]:
        return [
            {k: c.get(k) for k in ("name", "value", "domain", "path", "expires", "sameSite")}
            for c in self._context.cookies(self._page.url)
        ]

    def clear_cookies(self) -> None:
        self._context.clear_cookies()

    def set_cookie(self, url: str, name: str, value: str) -> None:
        self._context.add_cookies([{"name": name, "value": value, "url": url}])

    def resize(self, width: int, height: int) -> None:
        self._page.set_viewport_size({"width": width, "height": height})

    def download(self, css: str) -> Path:
        with self._page.expect_download() as started:
            self._page.click(css)
        saved = self._downloads / started.value.suggested_filename
        started.value.save_as(saved)
        return saved

    def close(self) -> None:
        if self._context:
            self._context.close()
        self.browser.close()
        shutil.rmtree(self._downloads, ignore_errors=True)


# --------------------------------------------------------------------------------- firefox


class FirefoxDriver:
    engine = "firefox"

    def __init__(self, proxy: str | None = None) -> None:
        require(Path(FIREFOX).exists(), f"no firefox-esr at {FIREFOX} (apt-get install firefox-esr)")
        require(PUPPETEER.exists(), f"no puppeteer-core in {PUPPETEER.parent} (make browser-deps: npm ci in {HERE})")
        node = shutil.which("node")
        require(node is not None, "no node on PATH for the puppeteer helper")
        self._downloads = Path(tempfile.mkdtemp(prefix="firefox-downloads-"))
        prefs: dict[str, Any] = {  # save every download in that folder, without asking
            "browser.download.folderList": 2,
            "browser.download.dir": str(self._downloads),
            "browser.download.useDownloadDir": True,
            "browser.download.always_ask_before_handling_new_types": False,
        }
        if proxy:
            host, port = proxy.rsplit(":", 1)
            prefs |= {"network.proxy.type": 1, "network.proxy.http": host, "network.proxy.http_port": int(port)}
        self._proc = subprocess.Popen(
            [str(node), str(HERE / "firefox.mjs"), FIREFOX, json.dumps(prefs)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=HERE,
        )
        self.version = self._call("version")

    def _call(self, op: str, **args: Any) -> Any:
        assert self._proc.stdin
        assert self._proc.stdout
        self._proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"[firefox] the puppeteer helper exited ({self._proc.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"[firefox] {op}: {answer['error']}")
        return answer["ok"]

    def fresh(self) -> None:
        self._call("fresh")

    def goto(self, url: str) -> None:
        self._call("goto", url=url)

    def eval(self, expression: str) -> Any:
        return self._call("eval", js=f"({expression})")

    def click(self, css: str) -> None:
        self._call("click", css=css)

    def type(self, css: str, text: str) -> None:
        self._call("type", css=css, text=text)

    def back(self) -> None:
        self.eval("history.back(), 1")

    def reload(self) -> None:
        self._call("reload")

    def url(self) -> str:
        return str(self.eval("location.href"))

    def cookies(self) -> list[dict[str, Any]]:
        return [
            {k: c.get(k) for k in ("name", "value", "domain", "path", "expires", "sameSite")}
            for c in self._call("cookies")
        ]

    def clear_cookies(self) -> None:
        self._call("clearCookies")

    def set_cookie(self, url: str, name: str, value: str) -> None:
        self._call("setCookie", url=url, name=name, value=value)

    def resize(self, width: int, height: int) -> None:
        self._call("viewport", width=width, height=height)

    def download(self, css: str) -> Path:
        return await_download(self.engine, self._downloads, lambda: self.click(css))

    def close(self) -> None:
        with suppress(Exception):
            assert self._proc.stdin
            self._proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self._proc.stdin.flush()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._downloads, ignore_errors=True)


# --------------------------------------------------------------------------------- webkit


@contextmanager
def xvfb() -> Iterator[str]:
    """An Xvfb server on a free display number (it picks one and writes it to a pipe); yields ':N'."""
    binary = shutil.which("Xvfb")
    require(binary is not None, "no Xvfb for WebKitGTK (apt-get install xvfb xauth)")
    read, write = os.pipe()
    proc = subprocess.Popen(
        [str(binary), "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        assert number, "Xvfb did not report a display"
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# MiniBrowser's toolbar (the window WebKitWebDriver opens) is wider than a phone: its GTK theme is shrunk so
# the window, and with it the page's viewport, can be 375 px wide. GTK's CSS styles the browser's own widgets,
# never the page.
NARROW_CHROME = "* { padding: 0; margin: 0; min-width: 0; min-height: 0; border-width: 0; font-size: 1px; }\n"


class WebKitDriver:
    engine = "webkit"

    def __init__(self, display: str, origins: Callable[[], list[str]], proxy: str | None = None) -> None:
        require(
            Path(WEBKIT_DRIVER).exists(), f"no WebKitWebDriver at {WEBKIT_DRIVER} (apt-get install webkit2gtk-driver)"
        )
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.service import Service

        self._origins = origins
        # a home of its own: the narrow toolbar's theme, and a Downloads folder the tests read
        self._home = Path(tempfile.mkdtemp(prefix="webkit-home-"))
        (self._home / ".config" / "gtk-3.0").mkdir(parents=True)
        (self._home / ".config" / "gtk-3.0" / "gtk.css").write_text(NARROW_CHROME)
        (self._home / ".config" / "user-dirs.dirs").write_text('XDG_DOWNLOAD_DIR="$HOME/Downloads"\n')
        self._downloads = self._home / "Downloads"
        self._downloads.mkdir()
        options = webdriver.WebKitGTKOptions()
        options.page_load_strategy = "normal"
        if proxy:
            from selenium.webdriver.common.proxy import Proxy, ProxyType

            options.proxy = Proxy({"proxyType": ProxyType.MANUAL, "httpProxy": proxy})
        env = {**os.environ, "DISPLAY": display, "HOME": str(self._home)}
        env.pop("XDG_CONFIG_HOME", None)
        service = Service(executable_path=WEBKIT_DRIVER, env=env)
        self._driver = webdriver.WebKitGTK(options=options, service=service)
        self._driver.set_page_load_timeout(10)
        self._driver.set_script_timeout(5)

    def fresh(self) -> None:
        # one WebDriver session is one profile: wipe every test origin's storage and cookies instead
        for origin in self._origins():
            self._driver.get(origin + "/blank")
            self._driver.execute_script("localStorage.clear(); sessionStorage.clear();")
            self._driver.delete_all_cookies()
        self._driver.get("about:blank")

    def goto(self, url: str) -> None:
        self._driver.get(url)

    def eval(self, expression: str) -> Any:
        return self._driver.execute_script(f"return ({expression});")

    def click(self, css: str) -> None:
        from selenium.webdriver.common.by import By

        self._driver.find_element(By.CSS_SELECTOR, css).click()

    def type(self, css: str, text: str) -> None:
        from selenium.webdriver.common.by import By

        self._driver.find_element(By.CSS_SELECTOR, css).send_keys(text)

    def back(self) -> None:
        self.eval("history.back(), 1")

    def reload(self) -> None:
        self._driver.refresh()

    def url(self) -> str:
        return str(self._driver.current_url)

    def cookies(self) -> list[dict[str, Any]]:
        return [
            {
                "name": c["name"],
                "value": c["value"],
                "domain": c.get("domain"),
                "path": c.get("path"),
                "expires": c.get("expiry", -1),
                "sameSite": c.get("sameSite"),
            }
            for c in self._driver.get_cookies()
        ]

    def clear_cookies(self) -> None:
        self._driver.delete_all_cookies()

    def set_cookie(self, url: str, name: str, value: str) -> None:
        # WebDriver sets a cookie for the page's own host: be on `url`'s origin first
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        if not self.url().startswith(origin + "/"):
            self.goto(origin + "/")
        self._driver.add_cookie({"name": name, "value": value, "path": "/"})

    def resize(self, width: int, height: int) -> None:
        # the window holds the toolbar too: size it, then add what the toolbar takes from the height
        self._driver.set_window_size(width, height)
        self._driver.set_window_size(width, 2 * height - int(self.eval("innerHeight")))

    def download(self, css: str) -> Path:
        return await_download(self.engine, self._downloads, lambda: self.click(css))

    def close(self) -> None:
        self._driver.quit()
        shutil.rmtree(self._home, ignore_errors=True)


# --------------------------------------------------------------------------------- one way to start each


@contextmanager
def launch(
    engine: str, request: pytest.FixtureRequest, origins: list[str], proxy: str | None = None
) -> Iterator[Driver]:
    """One engine's browser for a fixture (a module's or the session's). `origins`: the servers the tests
    visit, whose storage a fresh WebKit profile wipes. `proxy`: 'host:port' of an HTTP proxy every engine
    sends plain-HTTP requests to (loopback addresses may go direct): how made-up host names reach a test
    server the same way in each engine."""
    with ExitStack() as stack:
        driver: Driver
        if engine == "chromium":  # from the session's one Playwright (the `browser` fixture's)
            driver = ChromiumDriver(request.getfixturevalue("browser").browser_type, proxy)
        elif engine == "firefox":
            driver = FirefoxDriver(proxy)
        else:
            driver = WebKitDriver(stack.enter_context(xvfb()), lambda: origins, proxy)
        stack.callback(driver.close)
        yield driver
