"""Production jobs: RQ on Redis, run by `coursesignal worker`."""

from __future__ import annotations

import logging

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry

from adapters.jobs.tasks import task_path

log = logging.getLogger(__name__)

# A request never waits on Redis for long: short socket timeouts and no retry loop on the request path.
REDIS_TIMEOUT_SECONDS = 0.5


def connect_redis(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS)


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
