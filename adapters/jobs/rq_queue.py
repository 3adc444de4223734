"""Production jobs: RQ on Redis, run by `coursesignal worker`."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry as RedisRetry
from rq import Queue, Retry, get_current_job

from adapters.jobs.tasks import task_function, task_path

log = logging.getLogger(__name__)

# A request never waits on Redis for long: short socket timeouts and no retry loop on the request path.
REDIS_TIMEOUT_SECONDS = 0.5


def connect_redis(url: str) -> Redis:
    # redis-py retries a failed command three times with backoff by default: none here, a request must not
    # wait for Redis to come back.
    return Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        retry=RedisRetry(NoBackoff(), 0),
    )


class RqJobQueue:
    def __init__(self, redis: Redis, queue_name: str = "coursesignal") -> None:
        self._queue = Queue(queue_name, connection=redis)

    @property
    def name(self) -> str:
        return self._queue.name

    def enqueue(self, task: str, *args: int | str) -> None:
        try:
            self._queue.enqueue(task_path(task), *args, retry=Retry(max=3, interval=[10, 60, 300]))
        except RedisError:
            # The caller's data is already committed; the follow-up work is lost only until the next
            # re-attribution. Never fail the request for it.
            log.warning("could not queue job %s: Redis unavailable", task)

    def schedule_every(self, task: str, seconds: int) -> None:
        """Run `task` every `seconds` through RQ's scheduler (`coursesignal worker` runs with it).

        Each run is a job whose id names its time slot, so any number of workers calling this at start
        (and each run scheduling the next) leave exactly one run per slot.
        """
        task_function(task)
        schedule_next_run(self._queue, task, seconds)


def _slot_start(seconds: int, after: datetime) -> datetime:
    slot = math.floor(after.timestamp() / seconds) + 1
    return datetime.fromtimestamp(slot * seconds, UTC)


def schedule_next_run(queue: Queue, task: str, seconds: int) -> str:
    when = _slot_start(seconds, datetime.now(UTC))
    job_id = f"coursesignal-every-{task}-{int(when.timestamp())}"
    queue.enqueue_at(when, run_periodically, task, seconds, job_id=job_id)
    return job_id


def run_periodically(task: str, seconds: int) -> object:
    """One periodic run (an RQ job): do the task, then schedule the next slot's run, even on failure."""
    try:
        return task_function(task)()
    finally:
        job = get_current_job()
        if job is not None:
            schedule_next_run(Queue(job.origin, connection=job.connection), task, seconds)
