"""The app served over real HTTP with Kajabi pointed at the local fake: shared by the Kajabi integration
and browser tests. The fake delivers webhooks to this server like Kajabi would to a deployment."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.serving import make_server

from adapters.jobs.in_process import InProcessJobQueue
from adapters.persistence import tables as t
from adapters.platforms.hookspecs import hookimpl
from adapters.platforms.http import RetryingHttp
from adapters.platforms.kajabi.platform import KajabiPlatform
from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry
from core.domain.connections import ConnectionStatus
from core.ports.platforms import PlatformAdapter
from core.services.connections import ConnectionView
from coursesignal.container import Container, build_app, create_container
from coursesignal.settings import Settings
from tests.conftest import TEST_ENCRYPTION_KEY, sign_in
from tests.fakes.kajabi import FakeKajabi

PAGE_SIZE = 100  # the fake's maximum; Kajabi's own default of 25 is exercised in test_kajabi_platform.py


class FakeKajabiPlugin:
    """Kajabi pointed at the fake; by default with retries that do not sleep and big pages, so tests stay fast."""

    def __init__(self, api_url: str, page_size: int, sleep: Callable[[float], None]) -> None:
        self._adapter = KajabiPlatform(api_url, http=RetryingHttp("Kajabi", sleep=sleep), page_size=page_size)

    @hookimpl
    def coursesignal_platforms(self) -> list[PlatformAdapter]:
        return [self._adapter]


@dataclass
class Live:
    app: Flask
    container: Container
    base_url: str
    fake: FakeKajabi

    def client(self, email: str) -> tuple[FlaskClient, int]:
        client = self.app.test_client()
        return client, sign_in(client, self.container, email)

    def session_cookie(self, email: str) -> str:
        """The signed session cookie of a signed-in creator, for a real browser."""
        client, _ = self.client(email)
        cookie = client.get_cookie("session")
        assert cookie is not None
        return cookie.value

    def wait(self) -> None:
        self.container.gateways.job_queue().wait_until_idle()

    def watch_sync(self, account_id: int, connection_id: int, every: float) -> list[ConnectionView]:
        """The connection's status as a creator polling it sees it, every `every` seconds while it syncs
        (60 s at most), then the queue drained."""
        connections = self.container.services.connections()
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            view = connections.status(account_id, connection_id)
            seen.append(view)
            if view.status is not ConnectionStatus.SYNCING:
                break
            time.sleep(every)
        self.wait()
        return seen

    def credentials(self, key: Any = None) -> dict[str, str]:
        key = key or self.fake.key
        return {"client_id": key.client_id, "client_secret": key.client_secret}

    def connect(self, account_id: int) -> int:
        result = self.container.services.connections().connect(account_id, "kajabi", self.credentials())
        self.wait()
        return result.connection.id

    def count(self, table: t.Table) -> int:
        with self.container.gateways.engine().connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

    def row(self, connection_id: int) -> Any:
        with self.container.gateways.engine().connect() as connection:
            return connection.execute(
                select(t.platform_integrations).where(t.platform_integrations.c.id == connection_id)
            ).one()

    def hook_url(self) -> str:
        (hook,) = self.fake.hooks
        return hook.target_url


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_app(
    database_url: str,
    tmp_path: Path,
    fake: FakeKajabi,
    *,
    page_size: int = PAGE_SIZE,
    sleep: Callable[[float], None] = lambda _: None,
    retry_delays: Sequence[float] | None = None,
    plugins: tuple[object, ...] = (),
    smtp_url: str | None = None,
    api_urls: dict[str, str] | None = None,
) -> Iterator[Live]:
    """`plugins`: more hook implementations to install beside Kajabi (a platform on its own fake), and
    `api_urls` the API addresses they are handed, by platform, as COURSESIGNAL_<PLATFORM>_API_URL would;
    `smtp_url`: where mail goes (tests/fakes/smtp_server.py), instead of the instance folder's outbox."""
    port = _free_port()
    settings = Settings(
        database_url=database_url,
        redis_url=None,
        base_url=f"http://127.0.0.1:{port}",
        instance_path=tmp_path / "instance",
        environment="test",
        secret_key="test-secret-key",
        encryption_keys=(TEST_ENCRYPTION_KEY,),
        platform_api_urls={"kajabi": fake.base_url, **(api_urls or {})},
        smtp_url=smtp_url,
    )
    container = create_container(settings)
    manager = build_plugin_manager(load_entry_points=False)
    manager.register(FakeKajabiPlugin(fake.base_url, page_size, sleep), name="kajabi-on-the-fake")
    for plugin in plugins:
        manager.register(plugin)
    container.platforms.registry.override(providers.Object(PlatformRegistry(manager, settings.platform_api_urls)))
    if retry_delays is not None:  # failing jobs retried at once, not after 10 s, 1 min, ...
        container.gateways.job_queue.override(providers.Singleton(InProcessJobQueue, retry_delays=retry_delays))
    app = build_app(settings, container)
    app.config["TESTING"] = True
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Live(app, container, settings.base_url, fake)
    finally:
        server.shutdown()
        container.gateways.job_queue().stop()
        container.unwire()
        container.gateways.inbox().close()
        container.gateways.engine().dispose()
