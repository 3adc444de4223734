from __future__ import annotations

from typing import Protocol


class JobQueue(Protocol):
    """Slow work done after the request: each task is named, and takes ids, never objects."""

    def enqueue(self, task: str, *args: int | str) -> None: ...
