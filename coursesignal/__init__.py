"""CourseSignal: which channel sold the course.

This module is the public plugin API: a platform plugin imports what it needs from here and nothing
else (`from coursesignal import hookimpl, PlatformAdapter, PurchaseRecord, Money`).
"""

from adapters.platforms.hookspecs import hookimpl
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.ports.platforms import (
    ConnectChoice,
    ConnectionCheck,
    CredentialField,
    Credentials,
    CredentialsRejected,
    PlatformAdapter,
    PlatformError,
    PlatformRecord,
    PlatformUnavailable,
    SyncProgress,
    WebhookAuth,
    WebhookBatch,
    WebhookDelivery,
    WebhookRejected,
)

__version__ = "0.1.0"

__all__ = [
    "ConnectChoice",
    "ConnectionCheck",
    "CredentialField",
    "Credentials",
    "CredentialsRejected",
    "Money",
    "PlatformAdapter",
    "PlatformError",
    "PlatformRecord",
    "PlatformUnavailable",
    "PurchaseRecord",
    "RefundRecord",
    "SyncProgress",
    "WebhookAuth",
    "WebhookBatch",
    "WebhookDelivery",
    "WebhookRejected",
    "__version__",
    "hookimpl",
]
