"""The production setup under faults, end to end: `coursesignal run` (gunicorn) and `coursesignal worker` on a
PostgreSQL and a Redis of the test's own, while tracker events and Kajabi purchase webhooks flow:

1. Redis is stopped, then started again empty;
2. Redis is frozen (SIGSTOP), then thawed;
3. PostgreSQL is restarted;
4. the worker is killed with -9, and a new one started.

Then every event answered 204 is stored exactly once and every purchase whose webhook was answered 2xx is
stored exactly once, all within 2 minutes of the last recovery, and `/readyz` says ok again. Only the
instances this test started are stopped or frozen (tests/private_services.py): the machine's shared
PostgreSQL and Redis are never touched.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from adapters.persistence import tables as t
from tests.conftest import TEST_ENCRYPTION_KEY, record_figure, require
from tests.fakes.kajabi import FakeKajabi
from tests.private_services import (
    PrivatePostgres,
    PrivateRedis,
    Started,
    free_port,
    postgres_binaries,
    redis_server_available,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

RECOVERY_LIMIT_SECONDS = 120
FAULT_SECONDS = 8
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"}


@dataclass
class Traffic:
    """What was sent, and what the app accepted."""

    events_accepted: list[str] = field(default_factory=list)
    events_refused: int = 0
    purchases_accepted: list[str] = field(default_factory=list)
    purchases_refused: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass
class Production:
    base_url: str
    database_url: str
    environment: dict[str, str]
    redis: PrivateRedis
    postgres: PrivatePostgres
    kajabi: FakeKajabi
    tmp: Path
    log: Path
    processes: list[Started] = field(default_factory=list)

    def start(self, *args: str) -> Started:
        process = Started(list(args), self.environment, self.log, self.tmp)
        self.processes.append(process)
        return process

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@pytest.fixture
def production(tmp_path: Path) -> Iterator[Production]:
    require(redis_server_available(), "redis-server is not installed (apt-get install redis-server)")
    binaries = postgres_binaries()
    require(binaries is not None, "PostgreSQL's initdb is not installed (apt-get install postgresql)")
    assert binaries is not None
    redis = PrivateRedis(tmp_path / "redis")
    postgres = PrivatePostgres(tmp_path / "postgres", binaries)
    port = free_port()
    with FakeKajabi() as kajabi:
        kajabi.add_site("Academy")
        environment = {
            **os.environ,
            "COURSESIGNAL_DATABASE_URL": postgres.url,
            "COURSESIGNAL_REDIS_URL": redis.url,
            "COURSESIGNAL_ENV": "test",
            "COURSESIGNAL_SECRET_KEY": "test-secret-key-for-the-fault-test-0123456789",
            "COURSESIGNAL_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
            "COURSESIGNAL_INSTANCE_PATH": str(tmp_path / "instance"),
            "COURSESIGNAL_BASE_URL": f"http://127.0.0.1:{port}",
            "COURSESIGNAL_KAJABI_API_URL": kajabi.base_url,
            # No poll during the run: every purchase must come in through its webhook.
            "COURSESIGNAL_PLATFORM_POLL_SECONDS": "86400",
        }
        world = Production(
            f"http://127.0.0.1:{port}", postgres.url, environment, redis, postgres, kajabi, tmp_path, tmp_path / "log"
        )
        try:
            redis.start()
            postgres.start()
            Started(["db", "upgrade"], environment, world.log, tmp_path).process.wait(timeout=120)
            world.start("run", "--host", "127.0.0.1", "--port", str(port))
            world.start("worker")
            _wait(lambda: _get(f"{world.base_url}/readyz") is not None, 60, "the app answers", world)
            yield world
        finally:
            for process in world.processes:
                process.stop()
            redis.close()
            postgres.close()


def _get(url: str) -> dict[str, Any] | None:
    try:
        response = requests.get(url, timeout=3)
        return dict(response.json()) if response.status_code < 500 else None
    except (requests.RequestException, ValueError):
        return None


def _wait(condition: Any, seconds: float, what: Any, world: Production) -> float:
    started = time.monotonic()
    while not condition():
        said = what() if callable(what) else what
        assert time.monotonic() - started < seconds, f"{said}: not within {seconds} s\n{world.tail()}"
        time.sleep(0.5)
    return time.monotonic() - started


def _send_events(world: Production, site_key: str, traffic: Traffic) -> None:
    session = requests.Session()
    n = 0
    while not traffic.stop.is_set():
        n += 1
        event_id = f"fault{n:06d}{uuid.uuid4().hex[:8]}"
        body = {"s": site_key, "n": "pageview", "i": event_id, "v": f"visitor{n % 50:04d}", "u": "https://example.com/"}
        try:
            response = session.post(f"{world.base_url}/t/e", json=body, headers=BROWSER, timeout=5)
        except requests.RequestException:
            traffic.events_refused += 1
            continue
        if response.status_code == 204:
            traffic.events_accepted.append(event_id)
        else:
            traffic.events_refused += 1
        time.sleep(0.05)


def _send_purchases(world: Production, traffic: Traffic) -> None:
    kajabi = world.kajabi
    offer = kajabi.add_offer("Course", 9900)
    n = 0
    while not traffic.stop.is_set():
        n += 1
        purchase = kajabi.add_purchase(kajabi.add_customer(f"buyer{n}@example.com", f"Buyer {n}"), offer)
        try:
            statuses = kajabi.deliver("purchase", purchase)
        except Exception:
            statuses = []
        if statuses and all(200 <= status < 300 for status in statuses):
            traffic.purchases_accepted.append(str(purchase.id))
        else:
            traffic.purchases_refused += 1
        time.sleep(1.0)


def test_everything_accepted_is_processed_once_within_two_minutes_of_recovery(production: Production) -> None:
    world = production
    from coursesignal.container import create_container
    from coursesignal.settings import Settings

    container = create_container(Settings.from_environ(world.environment))
    engine = create_engine(world.database_url, pool_pre_ping=True)
    try:
        accounts = container.services.accounts()
        accounts.ensure_account("creator@example.com")
        site = accounts.add_site("creator@example.com", ["example.com"])
        account_id = site.account_id
        container.services.connections().connect(account_id, "kajabi", world.kajabi.credentials())
        _wait(lambda: len(world.kajabi.hooks) == 1, 60, "the webhook registered", world)
        _wait(lambda: _connected(engine), 90, "the first sync done", world)
        container.gateways.engine().dispose()

        traffic = Traffic()
        senders = [
            threading.Thread(target=_send_events, args=(world, site.public_key, traffic), daemon=True),
            threading.Thread(target=_send_purchases, args=(world, traffic), daemon=True),
        ]
        for sender in senders:
            sender.start()
        time.sleep(FAULT_SECONDS)

        world.redis.stop()  # 1. Redis gone, and back empty
        time.sleep(FAULT_SECONDS)
        world.redis.start()
        time.sleep(FAULT_SECONDS)
        world.redis.freeze()  # 2. Redis hangs
        time.sleep(FAULT_SECONDS)
        world.redis.thaw()
        time.sleep(FAULT_SECONDS)
        world.postgres.restart()  # 3. PostgreSQL restarts
        time.sleep(FAULT_SECONDS)
        worker = next(p for p in world.processes if p.process.args[-1] == "worker" and p.alive())
        worker.kill9()  # 4. the worker dies mid-work, and a new one starts
        world.start("worker")
        time.sleep(FAULT_SECONDS)
        traffic.stop.set()
        for sender in senders:
            sender.join(timeout=30)
        recovered_at = time.monotonic()

        events, purchases = set(traffic.events_accepted), set(traffic.purchases_accepted)
        assert len(events) > 100, len(events)
        assert len(purchases) > 10, len(purchases)

        missing: dict[str, int] = {}

        def all_in() -> bool:
            try:
                missing["events"] = len(events - _stored_events(engine))
                missing["purchases"] = len(purchases - _stored_purchases(engine))
            except SQLAlchemyError:
                return False
            return not any(missing.values())

        took = _wait(
            all_in, RECOVERY_LIMIT_SECONDS, lambda: f"every accepted event and purchase processed {missing}", world
        )
        assert _doubled(engine) == (0, 0)
        _wait(lambda: (_get(f"{world.base_url}/readyz") or {}).get("status") == "ok", 60, "/readyz ok", world)
        record_figure(
            "fault test",
            f"{len(events)} events and {len(purchases)} purchases accepted (refused while down: "
            f"{traffic.events_refused} events, {traffic.purchases_refused} deliveries), all processed once "
            f"{took:.0f} s after the last recovery",
        )
        assert time.monotonic() - recovered_at < RECOVERY_LIMIT_SECONDS + 60
    finally:
        container.unwire()
        engine.dispose()


def _connected(engine: Any) -> bool:
    with engine.connect() as db:
        return db.execute(select(t.platform_integrations.c.status)).scalar_one() == "connected"


def _stored_events(engine: Any) -> set[str]:
    with engine.connect() as db:
        return set(db.execute(select(t.events.c.client_event_id)).scalars())


def _stored_purchases(engine: Any) -> set[str]:
    with engine.connect() as db:
        return set(db.execute(select(t.purchases.c.platform_purchase_id)).scalars())


def _doubled(engine: Any) -> tuple[int, int]:
    with engine.connect() as db:
        events = db.execute(
            select(func.count()).select_from(
                select(t.events.c.client_event_id)
                .group_by(t.events.c.site_id, t.events.c.client_event_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
        purchases = db.execute(
            select(func.count()).select_from(
                select(t.purchases.c.platform_purchase_id)
                .group_by(t.purchases.c.platform, t.purchases.c.platform_purchase_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
    return int(events), int(purchases)
