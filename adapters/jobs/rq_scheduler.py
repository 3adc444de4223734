"""Scheduling for `coursesignal worker`, without RQ's scheduler lock, on a heartbeat that heals itself.

RQ's own scheduler runs in the one worker that holds a lock; a worker killed with -9 keeps that lock for a
minute, and the others try to take it only every 10 minutes, so retries and periodic runs waited that long.
Here every worker runs this loop on a thread instead:

- every second, due jobs (retries waiting for their delay, periodic runs whose slot has come) move from the
  queue's ScheduledJobRegistry onto the queue. Each job is claimed by removing it from the registry, which
  one worker only can do, so any number of workers move each job once, and none waits for a lock;
- every HEARTBEAT_SECONDS, each periodic task whose next run is missing (Redis restarted empty, a run died
  before scheduling the next) is scheduled again, and a heartbeat key says the scheduler is alive, for
  `/readyz`.

Redis down or frozen: each pass fails fast (short socket timeouts), is logged, and the next one tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from adapters.jobs.rq_queue import next_run_id, run_periodically

log = logging.getLogger(__name__)

RELEASE_EVERY_SECONDS = 1.0
HEARTBEAT_SECONDS = 5.0
# `/readyz` calls the scheduler missing when no worker has beaten for this long.
HEARTBEAT_TTL_SECONDS = 30


def heartbeat_key(queue_name: str) -> str:
    return f"{queue_name}:scheduler-heartbeat"


def release_due_jobs(queue: Queue) -> int:
    """Move the jobs whose time has come onto the queue; how many this call moved."""
    registry = ScheduledJobRegistry(queue=queue)
    moved = 0
    for job_id in registry.get_jobs_to_schedule(int(time.time())):
        # ZREM answers 1 to one caller only: that caller owns the job, whatever other workers do.
        if not queue.connection.zrem(registry.key, job_id):
            continue
        job = Job.fetch(job_id, connection=queue.connection) if Job.exists(job_id, queue.connection) else None
        if job is None:
            continue
        queue._enqueue_job(job, at_front=job.should_enqueue_at_front())  # the call RQ's own scheduler makes
        moved += 1
    return moved


def arm_periodic(queue: Queue, periodic: Sequence[tuple[str, int]]) -> list[str]:
    """Schedule the next run of each periodic task that has none; the tasks it had to arm."""
    armed = []
    for task, seconds in periodic:
        when, job_id = next_run_id(queue, task, seconds)
        if Job.exists(job_id, queue.connection):
            continue
        queue.enqueue_at(when, run_periodically, task, seconds, job_id=job_id)
        armed.append(task)
    return armed


class SchedulerHeartbeat:
    """The loop above on a daemon thread of `coursesignal worker`."""

    def __init__(self, redis: Redis, queue_name: str, periodic: Sequence[tuple[str, int]]) -> None:
        self._queue = Queue(queue_name, connection=redis)
        self._periodic = tuple(periodic)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="coursesignal-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def beat(self) -> None:
        """One heartbeat: arm what is missing and say so; Redis errors propagate."""
        armed = arm_periodic(self._queue, self._periodic)
        if armed:
            log.warning("periodic jobs were missing and are scheduled again: %s", ", ".join(armed))
        now = datetime.now(UTC)
        self._queue.connection.set(heartbeat_key(self._queue.name), now.isoformat(), ex=HEARTBEAT_TTL_SECONDS)

    def _run(self) -> None:
        next_beat = 0.0
        failing = False
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_beat:
                    self.beat()
                    next_beat = time.monotonic() + HEARTBEAT_SECONDS
                release_due_jobs(self._queue)
                if failing:
                    log.info("scheduler: Redis answers again")
                failing = False
            except RedisError as error:
                if not failing:
                    log.warning("scheduler: Redis unavailable (%s); trying again every second", error)
                failing = True
                next_beat = 0.0  # beat (and re-arm) as soon as Redis is back
            except Exception:
                log.exception("scheduler: a pass failed; trying again in a second")
            self._stop.wait(RELEASE_EVERY_SECONDS)
