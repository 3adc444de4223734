from __future__ import annotations

from typing import Protocol

#: A task that raises runs again after each of these delays, in seconds (RQ's Retry in production, the
#: in-process scheduler thread in the embedded default): five attempts over about 36 minutes, then it is
#: given up. A task that must leave a visible record of its last failure (a webhook delivery) counts its
#: own attempts against ATTEMPTS and stops raising on the last one.
RETRY_DELAYS: tuple[int, ...] = (10, 60, 300, 1800)
ATTEMPTS = 1 + len(RETRY_DELAYS)


class JobQueue(Protocol):
    """Slow work done after the request: each task is named, and takes ids, never objects.

    Tasks are safe to run twice (at-least-once delivery): a retry, a replay or a worker that died half
    way changes nothing that the first complete run did not.
    """

    def enqueue(self, task: str, *args: int | str) -> None: ...
