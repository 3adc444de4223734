"""A real `coursesignal worker` (RQ on Redis, forking a work horse) killed with SIGKILL half way through a
Kajabi sync: the next worker carries the sync on from its last stored page, without duplicates.

RQ 2.x keeps the job of a killed worker in its StartedJobRegistry until the job's heartbeat expires (90 s
after the last one), then the next maintenance run (every 10 min) retries it. CourseSignal does not wait for
that: each sync stores a heartbeat with every page, and the periodic platform poll carries on any sync whose
heartbeat is older than STALLED_SYNC. Here ten minutes pass by moving that heartbeat back in the database,
and the poll is queued at once instead of at its next slot.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rq import Queue
from sqlalchemy import func, select, update

from adapters.jobs.rq_queue import connect_redis
from adapters.persistence import tables as t
from core.domain.connections import STALLED_SYNC, ConnectionStatus
from core.services.connections import POLL_ALL_TASK
from coursesignal.container import create_container
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.fakes.kajabi import FakeKajabi
from tests.private_services import process_tree

pytestmark = pytest.mark.redis

PURCHASES = 150
KAJABI_PAGE_SIZE = 25  # the built-in adapter's page size


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    for pid in process_tree(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def fake() -> Iterator[FakeKajabi]:
    with FakeKajabi() as server:
        server.seed_random(PURCHASES, days=29, seed=7)
        server.read_delay = 0.02  # a slow Kajabi: the sync takes long enough to be killed half way
        yield server


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_worker_killed_mid_sync_is_carried_on_by_the_next_without_duplicates(
    settings, redis_url: str, fake: FakeKajabi, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    queue_name = f"coursesignal-test-{uuid.uuid4().hex[:8]}"
    settings = settings.__class__(
        **{**settings.__dict__, "redis_url": redis_url, "platform_api_urls": {"kajabi": fake.base_url}}
    )
    container = create_container(settings, queue_name=queue_name)
    redis = connect_redis(redis_url)
    environment = {
        **os.environ,
        "COURSESIGNAL_DATABASE_URL": settings.database_url,
        "COURSESIGNAL_REDIS_URL": redis_url,
        "COURSESIGNAL_ENV": "test",
        "COURSESIGNAL_SECRET_KEY": "test-secret-key",
        "COURSESIGNAL_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "COURSESIGNAL_INSTANCE_PATH": str(tmp_path / "worker-instance"),
        "COURSESIGNAL_KAJABI_API_URL": fake.base_url,
    }
    command = [sys.executable, "-c", "from coursesignal.cli import main; main()", "worker", "--queue", queue_name]
    logs = tmp_path / "workers.log"
    workers: list[subprocess.Popen[bytes]] = []

    def start_worker() -> subprocess.Popen[bytes]:
        with logs.open("ab") as log:
            process = subprocess.Popen(command, env=environment, cwd=tmp_path, stdout=log, stderr=log)
        workers.append(process)
        return process

    def connection_row():  # type: ignore[no-untyped-def]
        with container.gateways.engine().connect() as db:
            return db.execute(
                select(t.platform_integrations).where(t.platform_integrations.c.id == connection_id)
            ).one()

    def purchases() -> tuple[int, int]:
        with container.gateways.engine().connect() as db:
            count = db.execute(select(func.count()).select_from(t.purchases)).scalar_one()
            distinct = db.execute(select(func.count(func.distinct(t.purchases.c.platform_purchase_id)))).scalar_one()
        return int(count), int(distinct)

    try:
        account_id = container.services.accounts().ensure_account("creator@example.com").id
        connected = container.services.connections().connect(
            account_id, "kajabi", {"client_id": fake.client_id, "client_secret": fake.client_secret}
        )
        connection_id = connected.connection.id
        assert connected.connection.status is ConnectionStatus.SYNCING  # the sync job is on the queue

        first = start_worker()
        deadline = time.monotonic() + 60
        while connection_row().sync_pages_done < 2:
            assert time.monotonic() < deadline, (
                logs.read_text(),
                [(r.method, r.path, r.status) for r in fake.requests],
                connection_row(),
            )
            assert first.poll() is None, logs.read_text()
            time.sleep(0.02)
        _kill_tree(first)
        killed_at = connection_row()
        stored_when_killed, _ = purchases()
        assert killed_at.status == ConnectionStatus.SYNCING.value
        assert killed_at.sync_cursor is not None
        assert 0 < stored_when_killed < PURCHASES
        assert stored_when_killed <= killed_at.sync_purchases_found + KAJABI_PAGE_SIZE

        # Ten minutes without a page: the sync's heartbeat is stale. The next worker runs the periodic
        # poll, which carries the sync on from its checkpoint.
        with container.gateways.engine().begin() as db:
            db.execute(
                update(t.platform_integrations)
                .where(t.platform_integrations.c.id == connection_id)
                .values(sync_heartbeat_at=datetime.now(UTC) - STALLED_SYNC * 1.1)
            )
        start_worker()
        container.gateways.job_queue().enqueue(POLL_ALL_TASK)
        deadline = time.monotonic() + 60
        while connection_row().status != ConnectionStatus.CONNECTED.value:
            assert time.monotonic() < deadline, logs.read_text()
            time.sleep(0.05)

        done = connection_row()
        refund_pages = max(1, math.ceil(sum(1 for x in fake.transactions if x.action == "refund") / KAJABI_PAGE_SIZE))
        assert purchases() == (PURCHASES, PURCHASES)  # every purchase, none twice
        assert (done.sync_purchases_found, done.sync_total) == (PURCHASES, PURCHASES)
        assert done.sync_pages_done == math.ceil(PURCHASES / KAJABI_PAGE_SIZE) + refund_pages
        assert done.sync_cursor is None
        # The second worker resumed after the checkpoint, not from the start: only the page in flight when
        # the first was killed was read twice.
        pages_read = [
            int(r.param("page[number]") or 1)
            for r in fake.requests_to("/v1/purchases")
            if r.param("page[size]") == str(KAJABI_PAGE_SIZE)
        ]
        purchase_pages = math.ceil(PURCHASES / KAJABI_PAGE_SIZE)
        assert set(pages_read) == set(range(1, purchase_pages + 1))
        assert len(pages_read) <= purchase_pages + 1
        assert pages_read.count(1) == 1
    finally:
        for process in workers:
            if process.poll() is None:
                _kill_tree(process)
        Queue(queue_name, connection=redis).delete(delete_jobs=True)
        for key in redis.scan_iter(f"rq:*{queue_name}*"):
            redis.delete(key)
        container.unwire()
        container.gateways.engine().dispose()
