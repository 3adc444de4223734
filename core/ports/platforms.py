"""What every platform (Kajabi, Teachable, Stripe, a CSV file, a third party's plugin) provides.

A platform turns its own payloads into domain `PurchaseRecord`/`RefundRecord`s; nothing
platform-specific passes this boundary. Plugins subclass `PlatformAdapter` and return instances from
their `coursesignal_platforms` hook implementation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol

from core.domain.purchases import PurchaseRecord, RefundRecord

PlatformRecord = PurchaseRecord | RefundRecord


class PlatformError(Exception):
    """A failure a creator can act on; `str(error)` is the sentence shown to them."""


class WebhookRejected(PlatformError):
    """A delivery that is not authentic or cannot be read: answered 400 and stored nowhere."""


class WebhookAuth(StrEnum):
    URL_TOKEN = "url_token"  # noqa: S105 - a per-connection secret in the webhook URL, for platforms that sign nothing
    SIGNATURE = "signature"  # the platform signs the body (Stripe-Signature)


@dataclass(frozen=True, slots=True)
class CredentialField:
    name: str
    label: str
    help: str = ""
    secret: bool = False


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    ok: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class WebhookBatch:
    event_id: str  # the platform's id for this delivery: a repeat with the same id changes nothing
    records: Sequence[PlatformRecord] = field(default_factory=tuple)


class SyncProgress(Protocol):
    def __call__(self, done: int, total: int | None) -> None:
        """Report how many records have been read so far, and the total when the platform says."""
        ...


class PlatformAdapter(ABC):
    """One platform CourseSignal reads purchases from."""

    name: ClassVar[str]  # stable id used in URLs and storage, e.g. "kajabi"
    display_name: ClassVar[str]  # what a creator reads, e.g. "Kajabi"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    webhook_auth: ClassVar[WebhookAuth] = WebhookAuth.URL_TOKEN

    def check_credentials(self, credentials: Mapping[str, str]) -> ConnectionCheck:
        """Try the credentials against the platform at once; the message says what to fix."""
        return ConnectionCheck(ok=True)

    @abstractmethod
    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        """Verify (for signing platforms) and parse one delivery; raise WebhookRejected when it is bad."""

    @abstractmethod
    def fetch_purchases(
        self, credentials: Mapping[str, str], since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        """Yield purchases and refunds made since `since`, oldest or newest first, reporting progress.

        Raise PlatformError when the platform refuses or cannot be read.
        """


class PlatformCatalog(Protocol):
    """The platforms installed in this deployment, by name."""

    def get(self, name: str) -> PlatformAdapter:
        """The platform called `name`; raises KeyError when none is installed under it."""
        ...

    def all(self) -> Sequence[PlatformAdapter]: ...
