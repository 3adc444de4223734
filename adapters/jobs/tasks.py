"""Job functions: module-level, taking ids and primitives, each calling one service.

Services arrive through dependency-injector's wiring by string id, so this module never imports the
container; both the RQ worker and the in-process worker wire it before running anything.
"""

from __future__ import annotations

from collections.abc import Callable

from dependency_injector.wiring import Provide, inject

from core.services.attribution import Attribution
from core.services.connections import Connections
from core.services.privacy import Privacy
from core.services.subscriptions import Subscriptions
from core.services.tracking import Tracking


@inject
def sync_connection(connection_id: int, connections: Connections = Provide["services.connections"]) -> None:
    connections.run_sync(connection_id)


@inject
def poll_platform_connections(connections: Connections = Provide["services.connections"]) -> int:
    return connections.poll_live()


@inject
def poll_connection(connection_id: int, connections: Connections = Provide["services.connections"]) -> None:
    connections.poll(connection_id)


@inject
def process_webhook_delivery(delivery_id: int, connections: Connections = Provide["services.connections"]) -> str:
    return connections.process_delivery(delivery_id)


@inject
def reattribute_visitor(
    account_id: int, visitor_id: int, attribution: Attribution = Provide["services.attribution"]
) -> int:
    """An identify, a hand-off, a checkout reach or a late visit arrived for this visitor."""
    return attribution.reattribute_visitor(account_id, visitor_id)


@inject
def delete_expired_events(privacy: Privacy = Provide["services.privacy"]) -> int:
    """Raw tracker events past their retention age go; sessions and report rollups stay."""
    return privacy.delete_expired_events()


@inject
def process_tracker_events(account_id: int, tracking: Tracking = Provide["services.tracking"]) -> int:
    """Run the ingestion pipeline over the account's accepted tracker events."""
    return tracking.process_pending(account_id)


@inject
def send_trial_notices(subscriptions: Subscriptions = Provide["services.subscriptions"]) -> int:
    """Periodic: email creators whose free trial ends within three days or has just ended."""
    return subscriptions.send_trial_notices()


@inject
def sweep_tracker_events(tracking: Tracking = Provide["services.tracking"]) -> int:
    """Periodic: process tracker events whose job was lost (Redis was down, a worker died)."""
    return tracking.sweep()


@inject
def replay_webhook_delivery(delivery_id: int, connections: Connections = Provide["services.connections"]) -> str:
    """The creator pressed Replay: process the delivery now, whatever retry of it is waiting."""
    return connections.process_delivery(delivery_id)


@inject
def sweep_webhook_deliveries(connections: Connections = Provide["services.connections"]) -> int:
    """Periodic: queue again the accepted webhook deliveries whose job was lost."""
    return connections.sweep_deliveries()


# Tasks that drain a backlog: one queued run does the work of any number of them, so a queue may drop a
# repeat that is queued while an identical one still waits.
DRAINING_TASKS = frozenset({"process_tracker_events", "sweep_tracker_events"})
# Tasks the database-side sweep queues again when their job is lost: a queue drops a repeat while it still
# holds a job for the same arguments (queued, running, or waiting for a retry), so only lost ones run again.
SINGLE_RUN_TASKS = frozenset({"process_webhook_delivery"})


def task_function(name: str) -> Callable[..., object]:
    """The task called `name`, checked so a typo fails at enqueue time, not in the worker."""
    function = globals().get(name)
    if name.startswith("_") or not callable(function) or getattr(function, "__module__", None) != __name__:
        raise LookupError(f"no job task called {name!r}")
    return function  # type: ignore[no-any-return]


def task_path(name: str) -> str:
    """The importable path RQ stores for a task."""
    task_function(name)
    return f"{__name__}.{name}"
