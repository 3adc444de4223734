"""CourseSignal: which channel sold the course.

This module is the public plugin API: a platform plugin imports what it needs from here and nothing
else (`from coursesignal import hookimpl, PlatformAdapter, PurchaseRecord, Money`). Plugins never import
`core`, `adapters` or another plugin (an import-linter contract enforces it); what is named below is
kept stable for them. docs/plugins.md is the guide.
"""

from adapters.platforms.hookspecs import ENTRY_POINT_GROUP, hookimpl
from adapters.platforms.http import DEFAULT_TIMEOUT, RetryableStatus, RetryingHttp, raise_for_retryable
from adapters.platforms.webhook_auth import UrlTokenAuth
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
    "DEFAULT_TIMEOUT",
    "ENTRY_POINT_GROUP",
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
    "RetryableStatus",
    "RetryingHttp",
    "SyncProgress",
    "UrlTokenAuth",
    "WebhookAuth",
    "WebhookBatch",
    "WebhookDelivery",
    "WebhookRejected",
    "__version__",
    "hookimpl",
    "raise_for_retryable",
]
