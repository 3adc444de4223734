"""Production jobs: RQ on Redis, run by `coursesignal worker`."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry as RedisRetry
from rq import Queue, Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from adapters.jobs.tasks import DRAINING_TASKS, SINGLE_RUN_TASKS, task_function, task_path
from adapters.structured_logs import REQUEST_ID
from core.ports.jobs import RETRY_DELAYS
from core.services.connections import SYNC_TASK

log = logging.getLogger(__name__)

#: RQ kills a job running longer than its timeout (180 s by default) and counts it as failed. A sync of
#: thousands of purchases can take longer; it stores a checkpoint per page, so even a kill loses one page.
JOB_TIMEOUTS = {SYNC_TASK: 60 * 60}

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


def connect_worker_redis(url: str) -> Redis:
    """The worker's own connection: RQ sets its socket timeouts, and redis-py's retries ride out a blip."""
    return Redis.from_url(url)


def connect_scheduler_redis(url: str) -> Redis:
    """The scheduler thread's: a frozen Redis fails its pass in seconds (and is tried again), never hangs it."""
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, retry=RedisRetry(NoBackoff(), 0))


# The sender's rounds: an event waits this much longer for its run at most.
SEND_ROUND_SECONDS = 0.05
# How long a "a run is waiting" marker outlives a lost job; the sweeper covers the gap.
WAITING_MARKER_SECONDS = 30
# RQ stamps a running job's heartbeat every 30 s: two missed beats and a margin, and its worker is gone.
RUNNING_JOB_SILENT_SECONDS = 70
_HELD = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class RqJobQueue:
    """Jobs on an RQ queue. A run of a draining task (the tracker pipeline) is asked for on the request path of
    every event, so it is not sent there: `enqueue` notes it and returns, and a thread of this process sends
    what was noted, each distinct run once, however many requests asked for it meanwhile, in rounds at most
    every `SEND_ROUND_SECONDS` (under load, one Redis round trip per account per round, not per event). A run
    noted and lost with the process is no loss: the sweeper finds the events waiting in the database."""

    def __init__(self, redis: Redis, queue_name: str = "coursesignal") -> None:
        self._redis = redis
        self._queue = Queue(queue_name, connection=redis)
        self._asked: dict[tuple[str, tuple[int | str, ...]], None] = {}  # runs to send, in order
        self._sending = False
        self._lock = threading.Condition()
        self._sender: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self._queue.name

    def enqueue(self, task: str, *args: int | str) -> None:
        if task in DRAINING_TASKS:
            task_function(task)
            with self._lock:
                noted = (task, args) in self._asked  # then the sender has been woken for it already
                self._asked[(task, args)] = None
                if self._sender is None or not self._sender.is_alive():
                    self._sender = threading.Thread(target=self._send_asked, name="rq-draining-runs", daemon=True)
                    self._sender.start()
                if not noted:
                    self._lock.notify_all()
            return
        try:
            job_id = None
            if task in SINGLE_RUN_TASKS:
                job_id = single_run_job_id(self._queue.name, task, args)
                if self._holds(job_id):
                    return  # its job is still here (queued, running or waiting for a retry): not lost
            # The worker's log lines for this job carry the id of the request that queued it (structured_logs).
            meta = {"request_id": request_id} if (request_id := REQUEST_ID.get()) else None
            self._queue.enqueue(
                task_path(task),
                *args,
                retry=Retry(max=len(RETRY_DELAYS), interval=list(RETRY_DELAYS)),
                job_timeout=JOB_TIMEOUTS.get(task),
                job_id=job_id,
                meta=meta,
            )
        except RedisError:
            # The caller's data is already committed: tracker events wait for the sweeper, other follow-up
            # work for the next re-attribution. Never fail the request for it.
            log.warning("could not queue job %s: Redis unavailable", task)

    def _send_asked(self) -> None:
        while True:
            with self._lock:
                while not self._asked:
                    self._sending = False
                    self._lock.notify_all()
                    self._lock.wait()
                asked, self._asked, self._sending = list(self._asked), {}, True
            started = time.monotonic()
            try:
                self._enqueue_draining(asked)
            except RedisError:
                # The events are committed: they wait in the database for the sweeper.
                log.warning("could not queue %d draining runs (%s): Redis unavailable", len(asked), asked[0][0])
            except Exception:
                log.exception("could not queue %d draining runs (%s)", len(asked), asked[0][0])
            with self._lock:
                self._sending = False
                self._lock.notify_all()
            # What is asked meanwhile goes in the next round.
            time.sleep(max(0.0, SEND_ROUND_SECONDS - (time.monotonic() - started)))

    def wait_until_sent(self, timeout: float = 5.0) -> bool:
        """Wait until every run asked for so far has been sent (or found waiting); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._asked and not self._sending, timeout)

    def _holds(self, job_id: str) -> bool:
        try:
            job = Job.fetch(job_id, connection=self._redis)
        except NoSuchJobError:
            return False
        status = job.get_status(refresh=False)
        if status in _HELD:
            return True
        if status == JobStatus.STARTED:
            beat = job.last_heartbeat or job.started_at
            return beat is not None and (datetime.now(UTC) - beat.replace(tzinfo=UTC)).total_seconds() < (
                RUNNING_JOB_SILENT_SECONDS
            )
        return False

    def _enqueue_draining(self, asked: Sequence[tuple[str, tuple[int | str, ...]]]) -> None:
        """Queue a run of each, unless one is already waiting (not started): that run will do this one's work.
        Two round trips however many runs are asked: one pipeline sets their markers, one queues the new runs.

        The marker is cleared as the run starts, before it reads what to drain, so whatever was stored
        before an enqueue that found the marker is seen by that run.
        """
        markers = [waiting_marker(self._queue.name, task, args) for task, args in asked]
        with self._redis.pipeline(transaction=False) as pipe:
            for marker in markers:
                pipe.set(marker, 1, nx=True, ex=WAITING_MARKER_SECONDS)
            placed = pipe.execute()
        runs = [
            Queue.prepare_data(run_draining, (task, marker, *args))
            for (task, args), marker, new in zip(asked, markers, placed, strict=True)
            if new
        ]
        if runs:
            self._queue.enqueue_many(runs)

    def schedule_every(self, task: str, seconds: int) -> None:
        """Run `task` every `seconds` through RQ's scheduler (`coursesignal worker` runs with it).

        Each run is a job whose id names its time slot, so any number of workers calling this at start
        (and each run scheduling the next) leave exactly one run per slot.
        """
        task_function(task)
        schedule_next_run(self._queue, task, seconds)


def single_run_job_id(queue_name: str, task: str, args: tuple[int | str, ...]) -> str:
    return "-".join([queue_name, task, *map(str, args)])


def waiting_marker(queue_name: str, task: str, args: tuple[int | str, ...]) -> str:
    return ":".join([queue_name, "waiting", task, *map(str, args)])


def run_draining(task: str, marker: str, *args: int | str) -> object:
    """A run of a draining task (an RQ job): clear its marker, so later work queues a new run, then drain."""
    job = get_current_job()
    if job is not None:
        job.connection.delete(marker)
    return task_function(task)(*args)


def _slot_start(seconds: int, after: datetime) -> datetime:
    slot = math.floor(after.timestamp() / seconds) + 1
    return datetime.fromtimestamp(slot * seconds, UTC)


def next_run_id(queue: Queue, task: str, seconds: int) -> tuple[datetime, str]:
    """The next time slot of a periodic task, and the id of its run (the queue's name, the task, the slot)."""
    when = _slot_start(seconds, datetime.now(UTC))
    return when, f"{queue.name}-every-{task}-{int(when.timestamp())}"


def schedule_next_run(queue: Queue, task: str, seconds: int) -> str:
    when, job_id = next_run_id(queue, task, seconds)
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
