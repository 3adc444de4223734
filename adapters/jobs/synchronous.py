"""Jobs run at once, in the caller's thread: for the simulator and for tests that need determinism."""

from __future__ import annotations

from adapters.jobs.tasks import task_function


class SynchronousJobQueue:
    def enqueue(self, task: str, *args: int | str) -> None:
        task_function(task)(*args)
