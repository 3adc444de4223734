"""Connecting a creator's platform account: check, choose, sync, keep in sync, recover, disconnect.

One service, `Connections`, in three parts along its seams, each a file to read on its own:
- connecting.py: check the credentials, choose the platform account, register webhooks, reconnect, disconnect;
- syncing.py: the first sync and the periodic poll (the jobs `sync_connection`, `poll_connection`);
- deliveries.py: webhook deliveries received, processed in a job, replayed, swept up when their job was lost.
base.py holds what they share: the job names, the errors, the view of a connection, the credentials at rest.

What the web adapter, the jobs and the composition use is imported from this package, never from its parts.
"""

from __future__ import annotations

from core.services.connections.base import (
    DELIVERY_TASK,
    POLL_ALL_TASK,
    POLL_TASK,
    REPLAY_TASK,
    SYNC_TASK,
    ConnectionFailed,
    ConnectionView,
    UnknownConnection,
)
from core.services.connections.connecting import MANUAL_WEBHOOK_URL, Connecting, ConnectResult, WebhookSetup
from core.services.connections.deliveries import (
    DELIVERIES_SHOWN,
    DELIVERY_SWEEP_SECONDS,
    DELIVERY_SWEEP_TASK,
    LOST_AFTER,
    LOST_DELIVERIES_PER_SWEEP,
    DeliveryNotReady,
    DeliveryView,
    ReceivingDeliveries,
    UnknownDelivery,
    WebhookOutcome,
    WebhookReceipt,
    attempt_due,
    attempt_due_at,
)
from core.services.connections.syncing import Syncing


class Connections(Connecting, Syncing, ReceivingDeliveries):
    """The connections service: one object for the web adapter, the jobs and the CLI, built by the container."""


__all__ = [
    "DELIVERIES_SHOWN",
    "DELIVERY_SWEEP_SECONDS",
    "DELIVERY_SWEEP_TASK",
    "DELIVERY_TASK",
    "LOST_AFTER",
    "LOST_DELIVERIES_PER_SWEEP",
    "MANUAL_WEBHOOK_URL",
    "POLL_ALL_TASK",
    "POLL_TASK",
    "REPLAY_TASK",
    "SYNC_TASK",
    "ConnectResult",
    "ConnectionFailed",
    "ConnectionView",
    "Connections",
    "DeliveryNotReady",
    "DeliveryView",
    "UnknownConnection",
    "UnknownDelivery",
    "WebhookOutcome",
    "WebhookReceipt",
    "WebhookSetup",
    "attempt_due",
    "attempt_due_at",
]
