"""`coursesignal worker` heals itself, against a Redis of the test's own (stopped, restarted empty, never the
machine's) and the app's database on PostgreSQL:

- Redis restarts empty: the periodic jobs (sweeps, poll, retention, notices) are scheduled again within
  seconds, from the scheduler's heartbeat, not only when the worker starts.
- A worker killed with -9 and started again at once: scheduled jobs (retries) run within seconds; no lock
  of the dead worker holds them back.
- A webhook accepted while Redis was down (its job never queued) is processed within a minute of Redis and a
  worker being back, by the database-side sweep; `/readyz` says what waits meanwhile, and ok after.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from adapters.jobs.rq_scheduler import heartbeat_key
from adapters.persistence import tables as t
from tests.conftest import TEST_ENCRYPTION_KEY, require
from tests.fakes.kajabi import FakeKajabi
from tests.private_services import PrivateRedis, Started, redis_server_available

pytestmark = [pytest.mark.redis, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

PERIODIC = ("sweep_tracker_events", "sweep_webhook_deliveries", "poll_platform_connections", "delete_expired_events")


def wait_for(condition: Callable[[], Any], seconds: float, what: str, log: Path | None = None) -> float:
    """Poll until `condition()` is true; how long it took."""
    started = time.monotonic()
    while not condition():
        elapsed = time.monotonic() - started
        assert elapsed < seconds, f"{what}: not within {seconds} s" + (f"\n{log.read_text()[-4000:]}" if log else "")
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    require(redis_server_available(), "redis-server is not installed (apt-get install redis-server)")
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.close()


@pytest.fixture
def world(settings, redis_server: PrivateRedis, tmp_path: Path) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app, create_container

    queue_name = f"heal-{uuid.uuid4().hex[:8]}"
    with FakeKajabi() as kajabi:
        served = replace(settings, redis_url=redis_server.url, platform_api_urls={"kajabi": kajabi.base_url})
        container = create_container(served, queue_name=queue_name)
        environment = {
            **os.environ,
            "COURSESIGNAL_DATABASE_URL": served.database_url,
            "COURSESIGNAL_REDIS_URL": redis_server.url,
            "COURSESIGNAL_ENV": "test",
            "COURSESIGNAL_SECRET_KEY": "test-secret-key",
            "COURSESIGNAL_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
            "COURSESIGNAL_INSTANCE_PATH": str(tmp_path / "worker-instance"),
            "COURSESIGNAL_KAJABI_API_URL": kajabi.base_url,
        }
        log = tmp_path / "workers.log"
        workers: list[Started] = []

        def start_worker() -> Started:
            worker = Started(["worker", "--queue", queue_name], environment, log, tmp_path)
            workers.append(worker)
            return worker

        try:
            yield {
                "container": container,
                "client": build_app(served, container).test_client(),
                "queue": queue_name,
                "kajabi": kajabi,
                "start_worker": start_worker,
                "log": log,
            }
        finally:
            for worker in workers:
                worker.stop()
            container.unwire()
            container.gateways.engine().dispose()


def _armed(redis_server: PrivateRedis, queue_name: str) -> set[str]:
    ids = ScheduledJobRegistry(queue_name, connection=redis_server.client()).get_job_ids()
    return {task for task in PERIODIC if any(f"-every-{task}-" in job_id for job_id in ids)}


def test_periodic_jobs_are_scheduled_again_after_redis_restarts_empty(world, redis_server: PrivateRedis) -> None:  # type: ignore[no-untyped-def]
    world["start_worker"]()
    wait_for(lambda: _armed(redis_server, world["queue"]) == set(PERIODIC), 30, "armed at start", world["log"])
    redis_server.stop()
    time.sleep(2)
    redis_server.start()  # empty: every scheduled job and the heartbeat are gone
    assert _armed(redis_server, world["queue"]) == set()
    took = wait_for(lambda: _armed(redis_server, world["queue"]) == set(PERIODIC), 30, "armed again", world["log"])
    assert redis_server.client().get(heartbeat_key(world["queue"])) is not None
    assert took < 20


def test_a_worker_killed_with_9_and_restarted_at_once_runs_scheduled_jobs_within_seconds(  # type: ignore[no-untyped-def]
    world, redis_server: PrivateRedis
) -> None:
    first = world["start_worker"]()
    wait_for(lambda: _armed(redis_server, world["queue"]) == set(PERIODIC), 30, "first worker up", world["log"])
    first.kill9()
    world["start_worker"]()
    queue = Queue(world["queue"], connection=redis_server.client())
    job = queue.enqueue_in(timedelta(seconds=2), "adapters.jobs.tasks.sweep_tracker_events")  # as a retry waits
    took = wait_for(
        lambda: Job.fetch(job.id, connection=redis_server.client()).get_status() == JobStatus.FINISHED,
        60,
        "the scheduled job ran",
        world["log"],
    )
    assert took < 30  # the new worker's start-up and the 2 s delay; RQ's lock of the dead worker held it 10 min


def test_a_webhook_accepted_while_redis_was_down_is_processed_within_a_minute(
    world, redis_server: PrivateRedis
) -> None:  # type: ignore[no-untyped-def]
    container, client, kajabi = world["container"], world["client"], world["kajabi"]
    kajabi.add_site("Academy")
    account_id = container.services.accounts().ensure_account("creator@example.com").id
    connection_id = container.services.connections().connect(account_id, "kajabi", kajabi.credentials()).connection.id
    (hook,) = kajabi.hooks
    customer = kajabi.add_customer("buyer@example.com", "Buyer")
    purchase = kajabi.add_purchase(customer, kajabi.add_offer("Course", 19900))
    path = "/" + hook.target_url.split("://", 1)[1].split("/", 1)[1]

    redis_server.stop()
    accepted = client.post(path, json=kajabi.webhook_body("purchase", purchase))
    assert accepted.status_code == 202  # stored; its job could not be queued
    redis_server.start()  # back, empty: the delivery's job is nowhere

    def processed() -> bool:
        with container.gateways.engine().connect() as db:
            rows = db.execute(select(t.webhook_deliveries.c.processed_at)).scalars().all()
        return rows == [rows[0]] and rows[0] is not None

    def readiness() -> dict[str, Any]:
        return dict(client.get("/readyz").get_json()["checks"])

    assert readiness()["scheduler"]["status"] == "degraded"  # no worker yet
    world["start_worker"]()
    overdue = False
    started = time.monotonic()
    while not processed():
        overdue = overdue or readiness()["webhook_backlog"]["overdue"] == 1
        assert time.monotonic() - started < 75, world["log"].read_text()[-4000:]
        time.sleep(0.5)
    assert time.monotonic() - started < 60
    assert overdue  # /readyz said so while it waited
    checks = readiness()
    assert {name: check["status"] for name, check in checks.items()} == dict.fromkeys(checks, "ok")
    with container.gateways.engine().connect() as db:
        assert db.execute(select(t.purchases.c.platform_purchase_id)).scalars().all() == [str(purchase.id)]
    assert connection_id


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])  # field 19: nice


def test_the_worker_yields_the_cpu_to_the_app(world, redis_server: PrivateRedis) -> None:  # type: ignore[no-untyped-def]
    """COURSESIGNAL_WORKER_NICENESS (10): on a machine it shares with the app, the worker and the work horses
    it forks run below the web processes' priority (docs/operations.md, "Measured in the production setup")."""
    worker = world["start_worker"]()
    wait_for(lambda: _armed(redis_server, world["queue"]) == set(PERIODIC), 30, "worker up", world["log"])
    assert _niceness(worker.process.pid) == max(10, _niceness(os.getpid()))
