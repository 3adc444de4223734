"""The real CourseSignal application, started for a test with every installed plugin, spoken to over HTTP.

    with live_app(tmp_path, api_urls={"example_shop": fake.base_url}) as app:
        creator = app.sign_up()
        connection = creator.connect("example_shop", {"api_key": fake.api_key})
        app.deliver(connection.webhook_url, body)
        app.wait_for_jobs()
        assert creator.purchases()[0]["email"] == "buyer@example.com"

It runs the embedded default (a fresh SQLite database in `tmp_path`, jobs on the in-process worker, mail in
an outbox folder) on a free local port; platforms are found by their entry points exactly as in production,
so a plugin that cannot be loaded stops `live_app` with the same one-line error `coursesignal run` prints.
"""

from __future__ import annotations

import base64
import html
import re
import secrets
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

from adapters.persistence.migrate import upgrade
from coursesignal.container import Container, build_app, create_container
from coursesignal.settings import Settings

_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
_WEBHOOK_URL = re.compile(r'<code class="webhook-url">([^<]+)</code>')
_FORM_ERROR = re.compile(r'class="[^"]*\bform-error\b[^"]*"[^>]*>([^<]+)<')
PASSWORD = "a long test password for the live app"  # noqa: S105 - a throwaway account in a throwaway database  # nosec B105


class LiveAppError(AssertionError):
    """The application did not answer as a creator's browser expects."""


@dataclass(frozen=True)
class Connection:
    """A connection as the creator sees it: its page, and the webhook URL shown there (None when the
    platform registered its webhooks itself)."""

    id: int
    page_url: str
    webhook_url: str | None


class Creator:
    """A signed-in creator's browser: a cookie session that fills in each form's CSRF token."""

    def __init__(self, app: LiveApp, email: str) -> None:
        self.app = app
        self.email = email
        self.session = requests.Session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.app.url(path), timeout=30, **kwargs)

    def post_form(self, path: str, data: Mapping[str, str], *, form_page: str | None = None) -> requests.Response:
        """POST like a browser: first GET the page holding the form, for its CSRF token."""
        page = self.get(form_page or path)
        match = _CSRF.search(page.text)
        if match is None:
            raise LiveAppError(f"no form on {form_page or path} (HTTP {page.status_code})")
        return self.session.post(
            self.app.url(path), data={"csrf_token": match.group(1), **data}, timeout=30, allow_redirects=False
        )

    def connect(self, platform: str, credentials: Mapping[str, str]) -> Connection:
        """Fill in the platform's connect form; waits for the first sync. LiveAppError with the page's
        message when CourseSignal refuses the credentials."""
        answer = self.post_form(f"/connections/new/{platform}", credentials)
        if answer.status_code != 302:
            found = _FORM_ERROR.search(answer.text)
            message = html.unescape(found.group(1)).strip() if found else ""
            raise LiveAppError(message or f"connecting {platform} answered {answer.status_code}")
        page_url = answer.headers["Location"].removeprefix(self.app.base_url)
        self.app.wait_for_jobs()
        hook = _WEBHOOK_URL.search(self.get(page_url).text)
        connection_id = int(page_url.rstrip("/").split("/")[-1])
        return Connection(connection_id, page_url, html.unescape(hook.group(1)) if hook else None)

    def connection(self, connection_id: int) -> dict[str, Any]:
        """`GET /api/v1/connections/{id}`: status, reason, progress."""
        return dict(self.get(f"/api/v1/connections/{connection_id}").json())

    def purchases(self) -> list[dict[str, Any]]:
        """`GET /api/v1/purchases`: the creator's recent purchases, newest first."""
        body = self.get("/api/v1/purchases").json()
        return list(body["purchases"] if isinstance(body, dict) else body)


@dataclass
class LiveApp:
    base_url: str
    container: Container
    outbox: Path

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    def sign_up(self, email: str = "creator@example.com") -> Creator:
        """A verified creator account, signed in through the real sign-in form."""
        self.container.services.accounts().create_verified_account(email, PASSWORD)
        creator = Creator(self, email)
        answer = creator.post_form("/login", {"email": email, "password": PASSWORD})
        if answer.status_code != 302:
            raise LiveAppError(f"signing in answered {answer.status_code}")
        return creator

    def deliver(self, webhook_url: str, body: bytes, headers: Mapping[str, str] | None = None) -> requests.Response:
        """POST a webhook delivery as the platform would: no cookies, only the body and its headers."""
        return requests.post(
            self.url(webhook_url),
            data=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=30,
        )

    def wait_for_jobs(self) -> None:
        """Until the in-process worker has run every queued job (syncs, deliveries) to its end."""
        self.container.gateways.job_queue().wait_until_idle()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def live_app(tmp_path: Path, *, api_urls: Mapping[str, str] | None = None) -> Iterator[LiveApp]:
    """Serve CourseSignal with every installed plugin on a free local port until the block ends.

    `api_urls` points platforms at their fakes, as the operator's `COURSESIGNAL_<NAME>_API_URL` does."""
    port = _free_port()
    instance = tmp_path / "coursesignal-instance"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'coursesignal.db'}",
        redis_url=None,
        base_url=f"http://127.0.0.1:{port}",
        instance_path=instance,
        environment="test",
        secret_key=secrets.token_urlsafe(32),
        encryption_keys=(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),),
        platform_api_urls=dict(api_urls or {}),
    )
    container = create_container(settings)
    try:
        upgrade(container.gateways.engine())
        app = build_app(settings, container)
        server = make_server("127.0.0.1", port, app, threaded=True)
    except BaseException:
        container.unwire()
        container.gateways.engine().dispose()
        raise
    thread = threading.Thread(target=server.serve_forever, name="coursesignal-live-app", daemon=True)
    thread.start()
    try:
        yield LiveApp(settings.base_url, container, settings.outbox_path)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        container.gateways.job_queue().stop()
        container.unwire()
        container.gateways.inbox().close()
        container.gateways.engine().dispose()
