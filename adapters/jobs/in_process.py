"""The embedded default: jobs run on one background thread of the web process."""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from adapters.jobs.tasks import DRAINING_TASKS, SINGLE_RUN_TASKS, task_function
from adapters.structured_logs import REQUEST_ID, request_id_bound
from core.ports.jobs import RETRY_DELAYS

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(frozen=True, slots=True)
class _Job:
    task: str
    function: Callable[..., object]
    args: tuple[int | str, ...]
    request_id: str | None = None  # of the request that queued it, for the job's log lines
    attempt: int = 1


class InProcessJobQueue:
    """A FIFO drained by a daemon thread started on first use. A job that raises runs again after each of
    `retry_delays` (RETRY_DELAYS, like RQ's Retry in production), held meanwhile by a second thread that
    sleeps until the earliest one is due. What is queued lives in memory only: when the process dies, the
    database-side sweeps find the lost work again (tracker events at once, webhook deliveries when their
    attempt is due, from what the database keeps of their attempts; the periodic poll carries on syncs)."""

    def __init__(self, retry_delays: Sequence[float] = RETRY_DELAYS) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._retry_delays = tuple(retry_delays)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop_ticking = threading.Event()
        # Retries waiting for their time: (due on the monotonic clock, order, job), under `_due`.
        self._due = threading.Condition()
        self._later: list[tuple[float, int, _Job]] = []
        self._order = itertools.count()
        self._scheduler: threading.Thread | None = None
        self._waiting: set[tuple[str, tuple[int | str, ...]]] = set()  # draining tasks queued, not started
        # Single-run tasks held (queued, running or waiting for a retry): a repeat of one is dropped.
        self._held: set[tuple[str, tuple[int | str, ...]]] = set()

    def enqueue(self, task: str, *args: int | str) -> None:
        function = task_function(task)
        if self._stop_ticking.is_set():
            # Stopped (a shutdown): a timer that fired as it stopped must not start a new worker thread.
            log.info("job %s not queued: the job queue is stopped", task)
            return
        self._ensure_worker()
        if task in DRAINING_TASKS:
            with self._lock:
                if (task, args) in self._waiting:
                    return  # the run already waiting will do this one's work
                self._waiting.add((task, args))
        if task in SINGLE_RUN_TASKS:
            with self._lock:
                if (task, args) in self._held:
                    return  # its job is still here: not lost
                self._held.add((task, args))
        self._queue.put(_Job(task, function, args, REQUEST_ID.get()))

    def schedule_every(self, task: str, seconds: float) -> None:
        """Queue `task` every `seconds` from a timer thread, until `stop()`."""
        task_function(task)

        def tick() -> None:
            while not self._stop_ticking.wait(seconds):
                self.enqueue(task)

        threading.Thread(target=tick, name=f"coursesignal-every-{task}", daemon=True).start()

    @property
    def retries_waiting(self) -> int:
        with self._due:
            return len(self._later)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="coursesignal-jobs", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                with self._lock:
                    self._waiting.discard((item.task, item.args))
                self._run(item)
            finally:
                self._queue.task_done()

    def _run(self, job: _Job) -> None:
        try:
            with request_id_bound(job.request_id):
                job.function(*job.args)
        except Exception:
            if job.attempt > len(self._retry_delays):
                log.exception("job %s failed on attempt %d; giving up", job.task, job.attempt)
                self._release(job)
                return
            delay = self._retry_delays[job.attempt - 1]
            log.warning("job %s failed on attempt %d; retrying in %s s", job.task, job.attempt, delay, exc_info=True)
            self._retry_later(replace(job, attempt=job.attempt + 1), delay)
        else:
            self._release(job)

    def _release(self, job: _Job) -> None:
        with self._lock:
            self._held.discard((job.task, job.args))

    def _retry_later(self, job: _Job, delay: float) -> None:
        with self._due:
            heapq.heappush(self._later, (time.monotonic() + delay, next(self._order), job))
            if self._scheduler is None or not self._scheduler.is_alive():
                self._scheduler = threading.Thread(target=self._release_due, name="coursesignal-retries", daemon=True)
                self._scheduler.start()
            self._due.notify()

    def _release_due(self) -> None:
        """Sleep until the earliest retry is due (or a sooner one arrives), then queue it."""
        with self._due:
            while not self._stop_ticking.is_set():
                if not self._later:
                    self._due.wait()
                    continue
                wait = self._later[0][0] - time.monotonic()
                if wait > 0:
                    self._due.wait(wait)
                    continue
                _, _, job = heapq.heappop(self._later)
                self._ensure_worker()
                self._queue.put(job)

    def wait_until_idle(self) -> None:
        """Block until every queued job has run (tests, and a clean shutdown); retries waiting for their
        time are not waited for."""
        self._queue.join()

    def stop(self) -> None:
        self._stop_ticking.set()
        with self._due:
            self._due.notify_all()
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=5)
