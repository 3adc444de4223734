"""Job queues run the same module-level tasks: RQ on a real Redis, and the in-process thread."""

from __future__ import annotations

import time
import uuid

import pytest
from rq import SimpleWorker

from adapters.jobs.in_process import InProcessJobQueue
from adapters.jobs.rq_queue import RqJobQueue, connect_redis
from core.domain.events import EventKind, TrackerEvent
from core.domain.money import Money
from core.domain.purchases import AttributionStatus, PurchaseRecord
from coursesignal.container import create_container

pytestmark = pytest.mark.redis
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"


def _unmatched_purchase_then_identify(container) -> int:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    accounts = container.services.accounts()
    account = accounts.ensure_account("creator@example.com")
    site = accounts.add_site("creator@example.com", ["example.com"])
    now = datetime.now(UTC)
    tracking = container.services.tracking()
    tracking.record(
        TrackerEvent(
            site_key=site.public_key,
            client_event_id="event0001",
            kind=EventKind.PAGEVIEW,
            visitor_key="visitor01",
            url="https://example.com/?utm_source=ig",
            received_at=now - timedelta(hours=1),
            user_agent=BROWSER,
        )
    )
    container.services.purchases().ingest(
        account.id,
        [
            PurchaseRecord(
                platform="csv",
                platform_purchase_id="p1",
                amount=Money(100, "USD"),
                purchased_at=now,
                email="b@example.com",
            )
        ],
    )
    tracking.record(
        TrackerEvent(
            site_key=site.public_key,
            client_event_id="event0002",
            kind=EventKind.IDENTIFY,
            visitor_key="visitor01",
            url="https://example.com/",
            received_at=now,
            email="b@example.com",
            user_agent=BROWSER,
        )
    )
    return int(account.id)


def _status(container, account_id: int) -> AttributionStatus:  # type: ignore[no-untyped-def]
    purchase = container.gateways.unit_of_work()
    with purchase as uow:
        found = uow.purchases.get_by_platform_id(account_id, "csv", "p1")
    assert found is not None
    return found.status


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rq_runs_the_identify_follow_up_on_real_redis(settings, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    queue_name = f"coursesignal-test-{uuid.uuid4().hex[:8]}"
    container = create_container(
        settings.__class__(**{**settings.__dict__, "redis_url": redis_url}), queue_name=queue_name
    )
    redis = connect_redis(redis_url)
    try:
        queue = container.gateways.job_queue()
        assert isinstance(queue, RqJobQueue)
        account_id = _unmatched_purchase_then_identify(container)
        assert _status(container, account_id) is AttributionStatus.UNMATCHED
        worker = SimpleWorker([queue.name], connection=redis)
        assert worker.work(burst=True)
        assert _status(container, account_id) is AttributionStatus.MATCHED
    finally:
        from rq import Queue

        Queue(queue_name, connection=redis).delete(delete_jobs=True)
        container.unwire()
        container.gateways.engine().dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_in_process_queue_runs_the_same_task(container) -> None:  # type: ignore[no-untyped-def]
    queue = container.gateways.job_queue()
    assert isinstance(queue, InProcessJobQueue)
    account_id = _unmatched_purchase_then_identify(container)
    queue.wait_until_idle()
    assert _status(container, account_id) is AttributionStatus.MATCHED


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_rq_keeps_one_waiting_run_of_the_tracker_pipeline_per_account(settings, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    import json

    from rq import Queue

    from coursesignal.container import build_app

    queue_name = f"coursesignal-test-{uuid.uuid4().hex[:8]}"
    container = create_container(
        settings.__class__(**{**settings.__dict__, "redis_url": redis_url}), queue_name=queue_name
    )
    redis = connect_redis(redis_url)
    try:
        accounts = container.services.accounts()
        accounts.ensure_account("creator@example.com")
        site = accounts.add_site("creator@example.com", ["example.com"])
        client = build_app(settings, container).test_client()
        for n in range(4):
            body = {
                "s": site.public_key,
                "n": "pageview",
                "i": f"event000{n}",
                "v": "visitor01",
                "u": "https://example.com/",
            }
            assert client.post("/t/e", data=json.dumps(body), headers={"User-Agent": BROWSER}).status_code == 204
        job_queue = container.gateways.job_queue()
        assert job_queue.wait_until_sent()
        queue = Queue(queue_name, connection=redis)
        assert queue.count == 1, "one waiting run drains them all"
        assert SimpleWorker([queue_name], connection=redis).work(burst=True)
        assert container.services.tracking().backlog() == 0
        body = {"s": site.public_key, "n": "pageview", "i": "event0009", "v": "visitor01", "u": "https://example.com/"}
        assert client.post("/t/e", data=json.dumps(body), headers={"User-Agent": BROWSER}).status_code == 204
        assert job_queue.wait_until_sent()
        assert queue.count == 1, "once the run started, new events queue a new one"
        assert SimpleWorker([queue_name], connection=redis).work(burst=True)
        assert container.services.tracking().backlog() == 0
    finally:
        Queue(queue_name, connection=redis).delete(delete_jobs=True)
        for key in redis.scan_iter(f"{queue_name}:*"):
            redis.delete(key)
        container.unwire()
        container.gateways.engine().dispose()


def test_an_unknown_task_fails_at_enqueue_time() -> None:
    with pytest.raises(LookupError):
        InProcessJobQueue().enqueue("no_such_task", 1)


def test_the_in_process_queue_keeps_one_waiting_run_of_a_draining_task(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from adapters.jobs import in_process

    started, release = threading.Event(), threading.Event()
    runs: list[tuple[object, ...]] = []

    def drain(*args: object) -> None:
        runs.append(args)
        started.set()
        release.wait(5)

    monkeypatch.setattr(in_process, "task_function", lambda name: drain)
    queue = InProcessJobQueue()
    queue.enqueue("process_tracker_events", 1)
    assert started.wait(5)  # the first run is busy
    for _ in range(5):
        queue.enqueue("process_tracker_events", 1)  # one run waits; the others are its repeats
    queue.enqueue("process_tracker_events", 2)
    queue.enqueue("reattribute_visitor", 1, 1)  # not a draining task: every one runs
    queue.enqueue("reattribute_visitor", 1, 1)
    release.set()
    queue.wait_until_idle()
    queue.stop()
    assert runs == [(1,), (1,), (2,), (1, 1), (1, 1)]


def test_rq_enqueue_survives_redis_being_down() -> None:
    queue = RqJobQueue(connect_redis("redis://127.0.0.1:1/0"))
    queue.enqueue("reattribute_visitor", 1, 1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_platform_poll_runs_every_slot_once_through_the_rq_scheduler(settings, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    from adapters.jobs.rq_queue import run_periodically
    from core.services.connections import POLL_ALL_TASK

    queue_name = f"coursesignal-test-{uuid.uuid4().hex[:8]}"
    container = create_container(
        settings.__class__(**{**settings.__dict__, "redis_url": redis_url}), queue_name=queue_name
    )
    redis = connect_redis(redis_url)
    try:
        job_queue = container.gateways.job_queue()
        job_queue.schedule_every(POLL_ALL_TASK, 300)
        job_queue.schedule_every(POLL_ALL_TASK, 300)  # a second worker starting: still one run per slot
        registry = ScheduledJobRegistry(queue_name, connection=redis)
        (scheduled,) = registry.get_job_ids()
        assert scheduled.startswith(f"{queue_name}-every-{POLL_ALL_TASK}-")

        # A run (as the scheduler would start it) polls, then schedules the next slot, which is the same.
        Queue(queue_name, connection=redis).enqueue(run_periodically, POLL_ALL_TASK, 300)
        assert SimpleWorker([queue_name], connection=redis).work(burst=True)
        assert registry.get_job_ids() == [scheduled]
    finally:
        from rq import Queue as RqQueue

        RqQueue(queue_name, connection=redis).delete(delete_jobs=True)
        leftover = ScheduledJobRegistry(queue_name, connection=redis)
        for job_id in leftover.get_job_ids():
            leftover.remove(job_id, delete_job=True)
        container.unwire()
        container.gateways.engine().dispose()


def test_rq_jobs_retry_with_backoff_and_a_failed_delivery_is_retried_by_the_scheduler(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    import adapters.jobs.tasks
    from core.ports.jobs import RETRY_DELAYS
    from core.services.connections import DELIVERY_TASK, SYNC_TASK

    queue_name = f"coursesignal-test-{uuid.uuid4().hex[:8]}"
    redis = connect_redis(redis_url)
    try:
        job_queue = RqJobQueue(redis, queue_name)
        job_queue.enqueue(DELIVERY_TASK, 12345)
        job_queue.enqueue(SYNC_TASK, 12345)
        delivery_job, sync_job = Queue(queue_name, connection=redis).get_jobs()
        assert (delivery_job.retries_left, delivery_job.retry_intervals) == (4, [10, 60, 300, 1800])
        assert list(RETRY_DELAYS) == sync_job.retry_intervals
        assert sync_job.timeout == 3600  # a long sync is not killed at RQ's default of 180 s

        # A failing attempt goes to the scheduled registry, due after the first delay, for the worker's
        # scheduler to queue again.
        def failing(delivery_id: int) -> str:
            raise RuntimeError("Kajabi is down")

        monkeypatch.setattr(adapters.jobs.tasks, DELIVERY_TASK, failing)
        SimpleWorker([queue_name], connection=redis).work(burst=True, max_jobs=1)
        delivery_job.refresh()
        assert delivery_job.retries_left == 3
        (scheduled,) = ScheduledJobRegistry(queue_name, connection=redis).get_job_ids()
        assert scheduled == delivery_job.id
    finally:
        from rq import Queue as RqQueue

        RqQueue(queue_name, connection=redis).delete(delete_jobs=True)
        for key in redis.scan_iter(f"rq:*{queue_name}*"):
            redis.delete(key)


def test_a_draining_run_asked_for_while_redis_is_down_costs_the_caller_nothing() -> None:
    queue = RqJobQueue(connect_redis("redis://127.0.0.1:1/0"))
    started = time.monotonic()
    queue.enqueue("process_tracker_events", 1)
    assert time.monotonic() - started < 0.1, "the request path waited for Redis"
    assert queue.wait_until_sent(), "the sender thread gave up or hung"


def test_the_runs_asked_for_meanwhile_are_sent_together_in_two_round_trips(  # type: ignore[no-untyped-def]
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load, many accounts' events arrive within one sender round: their markers go in one pipeline and
    their new runs in another, not two round trips per account. A run already waiting is not queued again."""
    from redis.client import Pipeline, Redis
    from rq import Queue

    calls: dict[str, list[object]] = {"pipelines": [], "commands": []}
    run_pipeline, run_command = Pipeline.execute, Redis.execute_command

    def counted_pipeline(self: Pipeline, *args: object, **kwargs: object) -> object:
        calls["pipelines"].append(len(self.command_stack))
        return run_pipeline(self, *args, **kwargs)  # type: ignore[arg-type]

    def counted_command(self: Redis, *args: object, **kwargs: object) -> object:
        calls["commands"].append(args[0])
        return run_command(self, *args, **kwargs)

    queue_name = f"coursesignal-test-{uuid.uuid4().hex[:8]}"
    redis = connect_redis(redis_url)
    job_queue = RqJobQueue(redis, queue_name)
    accounts = range(1, 41)
    try:
        monkeypatch.setattr(Pipeline, "execute", counted_pipeline)
        monkeypatch.setattr(Redis, "execute_command", counted_command)
        for _ in range(2):
            with job_queue._lock:  # every account asked before the sender's round begins
                for account_id in accounts:
                    job_queue.enqueue("process_tracker_events", account_id)
                    job_queue.enqueue("process_tracker_events", account_id)
            assert job_queue.wait_until_sent()
        monkeypatch.undo()
        assert Queue(queue_name, connection=redis).count == len(accounts), "one waiting run per account"
        # The first round: the markers, then the 40 runs; the second: the markers, found waiting, nothing queued.
        assert len(calls["pipelines"]) == 3, calls["pipelines"]
        assert calls["commands"] in ([], ["INFO"]), calls["commands"]  # RQ reads the server's version once
    finally:
        Queue(queue_name, connection=redis).delete(delete_jobs=True)
        for key in redis.scan_iter(f"{queue_name}:*"):
            redis.delete(key)
