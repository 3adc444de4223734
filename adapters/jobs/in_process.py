"""The embedded default: jobs run on one background thread of the web process."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from adapters.jobs.tasks import DRAINING_TASKS, task_function

log = logging.getLogger(__name__)

_STOP = object()


class InProcessJobQueue:
    """A FIFO drained by a daemon thread started on first use. Work is lost if the process dies, which is
    the embedded default's trade-off; production runs RQ on Redis."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop_ticking = threading.Event()
        self._waiting: set[tuple[str, tuple[int | str, ...]]] = set()  # draining tasks queued, not started

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
        self._queue.put((task, function, args))

    def schedule_every(self, task: str, seconds: float) -> None:
        """Queue `task` every `seconds` from a timer thread, until `stop()`."""
        task_function(task)

        def tick() -> None:
            while not self._stop_ticking.wait(seconds):
                self.enqueue(task)

        threading.Thread(target=tick, name=f"coursesignal-every-{task}", daemon=True).start()

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
                name, function, args = item
                with self._lock:
                    self._waiting.discard((name, args))
                try:
                    function(*args)
                except Exception:
                    log.exception("job %s failed", name)
            finally:
                self._queue.task_done()

    def wait_until_idle(self) -> None:
        """Block until every queued job has run (tests, and a clean shutdown)."""
        self._queue.join()

    def stop(self) -> None:
        self._stop_ticking.set()
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=5)
