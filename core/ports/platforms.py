"""What every platform (Kajabi, Teachable, Stripe, a CSV file, a third party's plugin) provides.

A platform turns its own payloads into domain `PurchaseRecord`/`RefundRecord`s; nothing
platform-specific passes this boundary. Plugins subclass `PlatformAdapter` and return instances from
their `coursesignal_platforms` hook implementation.

Credentials are a mutable mapping: what the creator pasted, plus whatever an adapter writes into it while
working (an access token it was granted, a refresh token it was handed in exchange for the last one,
the account the creator chose). After every call the service stores the mapping again, encrypted, so a
refreshed token survives the process.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
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


class CredentialsRejected(PlatformError):
    """The platform refuses the credentials (a wrong secret, a revoked or rotated key, a missing
    permission): the connection needs the creator's attention, and reconnecting is the fix."""


class PlatformUnavailable(PlatformError):
    """The platform could not be reached or kept failing after bounded retries: try again later."""


class InvalidRecord(PlatformError):
    """A platform returned a record CourseSignal cannot store (another platform's name, an empty id, a
    negative amount, a malformed email, a date in the future...): a bug in the platform's plugin. Nothing of
    the delivery or sync page holding it is stored, and trying again cannot help."""


class WebhookAuth(StrEnum):
    URL_TOKEN = "url_token"  # noqa: S105 - a per-connection secret in the webhook URL, for platforms that sign nothing  # nosec B105
    SIGNATURE = "signature"  # the platform signs the body (Stripe-Signature)


@dataclass(frozen=True, slots=True)
class CredentialField:
    name: str
    label: str
    help: str = ""
    secret: bool = False
    # An optional field may be left empty on connect and filled in later on the connection's page (Stripe's
    # webhook signing secret exists only once the creator added the endpoint URL the connection shows).
    required: bool = True


@dataclass(frozen=True, slots=True)
class ConnectChoice:
    """One account the credentials reach on the platform (a Kajabi site), for the creator to pick."""

    id: str
    label: str


@dataclass(frozen=True, slots=True)
class ConnectionCheck:
    """The answer to `check_credentials`.

    `choices` lists the accounts the credentials reach when the creator must pick one (several Kajabi
    sites); the service stores the chosen `ConnectChoice.id` in the credentials under `choice_field`
    before any later call. With one choice, it is chosen for the creator.
    """

    ok: bool
    message: str = ""
    choices: tuple[ConnectChoice, ...] = ()
    choice_field: str = ""


class Headers(Mapping[str, str]):
    """HTTP headers, looked up whatever the case of the name (`headers["stripe-signature"]` and
    `headers["Stripe-Signature"]` are one header), iterated with the names as they were sent."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: dict[str, tuple[str, str]] = {name.lower(): (name, value) for name, value in pairs}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    headers: Mapping[str, str]  # a case-insensitive Headers mapping, whatever is passed in
    body: bytes
    # When CourseSignal received it: a signature's age is measured against this, so the job that reads
    # a stored delivery again minutes later still accepts it. Always set when a platform is called (the
    # PlatformRegistry fills in now for a caller that left it out).
    received_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))


# An event id is stored as it came (255 characters at most); no platform makes one with control characters.
MAX_EVENT_ID_LENGTH = 255


@dataclass(frozen=True, slots=True)
class WebhookBatch:
    event_id: str  # the platform's id for this delivery: a repeat with the same id changes nothing
    records: Sequence[PlatformRecord] = field(default_factory=tuple)
    # What the delivery names but does not carry (Teachable's events hold ids, no amounts), in the
    # platform's own opaque form: `confirm_batch` reads each through the API, in the job, not the request.
    references: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # Raised inside an adapter's read_webhook, so a hostile id is refused like any unreadable delivery.
        if (
            not isinstance(self.event_id, str)
            or not 0 < len(self.event_id) <= MAX_EVENT_ID_LENGTH
            or not self.event_id.isprintable()
        ):
            raise WebhookRejected(f"the event id is not one a platform sends: {self.event_id!r:.80}")


Credentials = MutableMapping[str, str]


class SyncProgress(Protocol):
    def __call__(self, done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
        """Report how many records have been read so far, the total when the platform says, and, for
        paginated APIs, how many pages are done.

        Called after the records of a page were yielded, it is also the sync's checkpoint: the service
        stores those records and `cursor` together. `cursor` (any string the adapter can read back, at
        most a few KB, never a secret) says where `resume_purchases` carries on; None means "from the
        start"."""
        ...


class PlatformAdapter(ABC):
    """One platform CourseSignal reads purchases from."""

    name: ClassVar[str]  # stable id used in URLs and storage, e.g. "kajabi"
    display_name: ClassVar[str]  # what a creator reads, e.g. "Kajabi"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    webhook_auth: ClassVar[WebhookAuth] = WebhookAuth.URL_TOKEN

    def check_credentials(self, credentials: Credentials) -> ConnectionCheck:
        """Try the credentials against the platform at once; the message says what to fix.

        May write granted tokens into `credentials`; may offer `choices` (see ConnectionCheck).
        """
        return ConnectionCheck(ok=True)

    @abstractmethod
    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        """Verify (for signing platforms) and parse one delivery; raise WebhookRejected when it is bad."""

    @abstractmethod
    def fetch_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        """Yield purchases and refunds made since `since`, oldest or newest first, reporting progress.

        Raise PlatformError when the platform refuses or cannot be read (CredentialsRejected when it
        refuses the credentials, PlatformUnavailable when it cannot be reached).
        """

    def resume_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress, cursor: str
    ) -> Iterator[PlatformRecord]:
        """Carry on a sync that stopped (its worker died) after the checkpoint `cursor` was reported.

        The default reads everything again from the start: records read twice change nothing, so this is
        correct, only slower. Paginated platforms resume at the page the cursor names, and report their
        counts from where the stopped run left them.
        """
        return self.fetch_purchases(credentials, since, progress)

    def confirm_records(self, credentials: Credentials, records: Sequence[PlatformRecord]) -> Sequence[PlatformRecord]:
        """The records of a webhook as the platform's API has them, before they count.

        Platforms that sign nothing re-read each record through their API (so a forged or altered
        delivery cannot invent an amount or an email) and leave out those the API does not know. The
        default trusts the delivery, which is right for platforms whose signature `read_webhook` checked.
        """
        return records

    def confirm_batch(self, credentials: Credentials, batch: WebhookBatch) -> Sequence[PlatformRecord]:
        """What a stored delivery counts for, run in a job: by default `confirm_records` of its records.

        A platform whose deliveries only name what happened (`batch.references`) reads it here.
        """
        return self.confirm_records(credentials, batch.records)

    def register_webhooks(self, credentials: Credentials, target_url: str) -> tuple[str, ...]:
        """Ask the platform to deliver its events to `target_url`; return the ids it gave the hooks.

        The default registers nothing: the creator pastes the URL into the platform by hand.
        """
        return ()

    def remove_webhooks(self, credentials: Credentials, webhook_ids: Sequence[str]) -> None:
        """Remove hooks `register_webhooks` created; hooks already gone are not an error."""
        return None


class PlatformCatalog(Protocol):
    """The platforms installed in this deployment, by name."""

    def get(self, name: str) -> PlatformAdapter:
        """The platform called `name`; raises KeyError when none is installed under it."""
        ...

    def all(self) -> Sequence[PlatformAdapter]: ...
