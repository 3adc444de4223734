"""The production setup as separate processes on the machine's shared PostgreSQL and Redis: any number of app
instances (gunicorn serving `build_app()`) and workers (`coursesignal worker`), with production settings.

Nothing shared is flushed, stopped or reconfigured: the deployment gets a database of its own on the shared
PostgreSQL (created here, dropped at the end) and a Redis database number of its own (claimed here with a
SET NX marker on an empty one; at the end only that number's keys are deleted, one by one).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
from redis import Redis
from sqlalchemy import create_engine, make_url, text

from bench.collect import GUNICORN
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.private_services import Started, free_port

CLAIM_KEY = "coursesignal:claimed-by"
REDIS_DATABASES = range(1, 16)  # Redis's default 16 numbers; 0 is the one everything else uses


@contextmanager
def own_postgres_database(admin_url: str, template: str | None = None) -> Iterator[str]:
    """A new database on the PostgreSQL at `admin_url`, empty or a copy of the database at URL `template`;
    its URL. Dropped (connections cut) at the end."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"coursesignal_scale_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_database(admin_url: str) -> Iterator[str]:
    """A database of its own with the schema up to date, and no connection left open: a template for
    `own_postgres_database`, so several deployments skip the migrations."""
    from adapters.persistence.database import create_database_engine
    from adapters.persistence.migrate import upgrade

    with own_postgres_database(admin_url) as url:
        engine = create_database_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@contextmanager
def own_redis_database(server_url: str) -> Iterator[str]:
    """The URL of an empty Redis database number on the server at `server_url`, claimed for this run (a marker
    set only if absent, on a number holding nothing else). At the end its keys are deleted, and only them."""
    token = uuid.uuid4().hex
    for number in REDIS_DATABASES:
        url_text = urlsplit(server_url)._replace(path=f"/{number}").geturl()
        redis = Redis.from_url(url_text, socket_timeout=5)
        if redis.set(CLAIM_KEY, token, nx=True, ex=6 * 3600) and redis.dbsize() == 1:
            break
        if redis.get(CLAIM_KEY) == token.encode():
            redis.delete(CLAIM_KEY)  # the number holds someone's keys: left to them
        redis.close()
    else:
        raise RuntimeError(f"no empty Redis database number on {server_url}")
    try:
        yield url_text
    finally:
        for key in redis.scan_iter(count=1000):
            redis.delete(key)
        redis.close()


@dataclass
class Deployment:
    """App instances and workers started with production settings on one database and one Redis."""

    database_url: str
    redis_url: str
    folder: Path
    platform_api_urls: dict[str, str] = field(default_factory=dict)
    processes: list[Started] = field(default_factory=list)
    base_urls: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log = self.folder / "deployment.log"
        # The address people and platforms reach the installation at: the load balancer in front of the
        # instances, played by whoever sends the traffic (it forwards the sender's address in X-Forwarded-For).
        self.public_url = f"http://127.0.0.1:{free_port()}"
        self.environment = {
            **os.environ,
            "COURSESIGNAL_ENV": "production",
            "COURSESIGNAL_DATABASE_URL": self.database_url,
            "COURSESIGNAL_REDIS_URL": self.redis_url,
            "COURSESIGNAL_SECRET_KEY": secrets.token_urlsafe(48),
            "COURSESIGNAL_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
            "COURSESIGNAL_INSTANCE_PATH": str(self.folder / "instance"),
            "COURSESIGNAL_BASE_URL": self.public_url,
            "COURSESIGNAL_TRUSTED_PROXIES": "1",
            "COURSESIGNAL_LOG_LEVEL": "WARNING",
            # No poll while traffic runs: every purchase comes in through its webhook.
            "COURSESIGNAL_PLATFORM_POLL_SECONDS": "86400",
            **{f"COURSESIGNAL_{name.upper()}_API_URL": url for name, url in self.platform_api_urls.items()},
        }

    def command(self, *args: str) -> Started:
        process = Started(list(args), self.environment, self.log, self.folder)
        self.processes.append(process)
        return process

    def upgrade(self) -> None:
        process = self.command("db", "upgrade")
        if process.process.wait(timeout=300) != 0:
            raise RuntimeError(f"coursesignal db upgrade failed:\n{self.tail()}")

    def start_apps(self, count: int) -> list[str]:
        """`count` more app instances, served as docs/operations.md says production is (gunicorn, gthread, the
        server settings bench/collect.py measures), started together; their addresses, once they answer."""
        started = []
        for _ in range(count):
            port = free_port()
            process = Started(
                [*GUNICORN, "--bind", f"127.0.0.1:{port}", "coursesignal.container:build_app()"],
                self.environment,
                self.log,
                self.folder,
                program=[str(Path(sys.executable).parent / "gunicorn")],
            )
            self.processes.append(process)
            started.append(f"http://127.0.0.1:{port}")
        for base_url in started:
            self._wait_until_ready(base_url)
        self.base_urls.extend(started)
        return started

    def start_worker(self) -> Started:
        return self.command("worker")

    def _wait_until_ready(self, base_url: str, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with suppress(requests.RequestException):
                if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the app at {base_url} did not answer within {seconds:.0f} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes.clear()
        self.base_urls.clear()


@contextmanager
def deployment(
    admin_url: str,
    redis_server_url: str,
    folder: Path,
    platform_api_urls: dict[str, str] | None = None,
    *,
    template: str | None = None,
) -> Iterator[Deployment]:
    """A migrated database (`coursesignal db upgrade`, or a copy of the `template` database) and a Redis
    number of their own, and no process yet: the caller starts them."""
    with (
        own_postgres_database(admin_url, template) as database_url,
        own_redis_database(redis_server_url) as redis_url,
    ):
        deployed = Deployment(database_url, redis_url, folder, dict(platform_api_urls or {}))
        try:
            if template is None:
                deployed.upgrade()
            yield deployed
        finally:
            deployed.stop()
