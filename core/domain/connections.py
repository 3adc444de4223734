"""A creator's connection to a platform (Kajabi, Teachable, ...) and what it is doing now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

#: How far back the first sync reaches.
BACKFILL_WINDOW = timedelta(days=30)
#: Polls re-read this much before the last sync: platforms filter by (site-local) date, and a record
#: read twice changes nothing.
POLL_OVERLAP = timedelta(days=1)
#: A sync that stored no page for this long died with its worker (a killed RQ worker, a restart of the
#: embedded default, which loses its queued jobs): the periodic poll queues it again, and it resumes
#: from its last checkpoint. Longer than one page can take with the HTTP retries' backoff.
STALLED_SYNC = timedelta(minutes=10)
#: How long reading a connection's sales may keep failing before the creator gets one email about it (the
#: connection's page shows the failure from the first one). Long enough to ride out a platform's short
#: outage, short enough that a day's sales are not silently missing.
SYNC_FAILURE_EMAIL_AFTER = timedelta(hours=1)


class ConnectionStatus(StrEnum):
    CHOOSING = "choosing"  # credentials work; the creator picks which of the platform's accounts to read
    SYNCING = "syncing"
    CONNECTED = "connected"
    NEEDS_ATTENTION = "needs_attention"
    DISCONNECTED = "disconnected"


@dataclass(slots=True)
class SyncState:
    """How far the running (or last) sync got: shown live while it runs."""

    pages_done: int = 0
    purchases_found: int = 0
    total: int | None = None
    started_at: datetime | None = None  # also names the run: a reconnect starts a new one
    cursor: str | None = None  # where the platform adapter resumes (opaque to CourseSignal)
    heartbeat_at: datetime | None = None  # the last checkpoint of a run that is alive


@dataclass(slots=True)
class Connection:
    account_id: int
    platform: str
    status: ConnectionStatus
    created_at: datetime
    sealed_credentials: bytes | None = None  # encrypted by the TokenCipher; never the plaintext
    external_account_id: str | None = None  # the platform's id of the chosen account (a Kajabi site)
    external_account_name: str | None = None
    webhook_ids: tuple[str, ...] = ()
    webhook_token_hash: str | None = None
    status_reason: str | None = None
    last_synced_at: datetime | None = None
    sync: SyncState = field(default_factory=SyncState)
    id: int | None = None
    # Sync health: reading the platform (the periodic poll, or a sync's retries) has failed since
    # `failing_since`, the last time for `sync_error` (a sentence for the creator); `failure_emailed_at` is
    # when the creator was told, once per run of failures.
    sync_error: str | None = None
    failing_since: datetime | None = None
    failure_emailed_at: datetime | None = None

    def start_sync(self, now: datetime) -> None:
        self.status = ConnectionStatus.SYNCING
        self.status_reason = None
        self.sync = SyncState(started_at=now)

    def sync_stalled(self, now: datetime) -> bool:
        alive_at = self.sync.heartbeat_at or self.sync.started_at
        return self.status is ConnectionStatus.SYNCING and (alive_at is None or now - alive_at > STALLED_SYNC)

    def synced(self, at: datetime) -> None:
        self.status = ConnectionStatus.CONNECTED
        self.status_reason = None
        self.last_synced_at = at
        self.reading_recovered()

    def reading_failed(self, reason: str, now: datetime) -> bool:
        """Note a failed read of the platform; True when the creator should now get the one email about it."""
        self.sync_error = reason
        if self.failing_since is None:
            self.failing_since = now
        due = self.failure_emailed_at is None and now - self.failing_since >= SYNC_FAILURE_EMAIL_AFTER
        if due:
            self.failure_emailed_at = now
        return due

    def reading_recovered(self) -> bool:
        """A read of the platform succeeded: the failure is over. True when there was one."""
        failing = self.failing_since is not None
        self.sync_error = None
        self.failing_since = None
        self.failure_emailed_at = None
        return failing

    @property
    def is_failing(self) -> bool:
        return self.failing_since is not None

    def needs_attention(self, reason: str) -> None:
        self.status = ConnectionStatus.NEEDS_ATTENTION
        self.status_reason = reason

    def disconnect(self) -> None:
        """Forget the credentials and hooks; keep the row (and the purchases it brought) for the record."""
        self.status = ConnectionStatus.DISCONNECTED
        self.status_reason = None
        self.sealed_credentials = None
        self.webhook_ids = ()
        self.reading_recovered()

    @property
    def is_live(self) -> bool:
        """Receives webhooks and is polled."""
        return self.status in (ConnectionStatus.SYNCING, ConnectionStatus.CONNECTED)

    def poll_since(self, now: datetime) -> datetime:
        if self.last_synced_at is None:
            return now - BACKFILL_WINDOW
        return max(self.last_synced_at - POLL_OVERLAP, now - BACKFILL_WINDOW)


class DeliveryState(StrEnum):
    WAITING = "waiting"  # stored, its first attempt not made yet
    RETRYING = "retrying"  # an attempt failed; the queue tries again after a delay
    FAILED = "failed"  # every attempt failed: shown to the creator, who may replay it
    PROCESSED = "processed"


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A webhook delivery kept raw, exactly as received, until a job has processed it."""

    connection_id: int
    event_id: str
    body: bytes
    headers: dict[str, str]
    received_at: datetime
    processed_at: datetime | None = None
    outcome: str | None = None
    attempts: int = 0
    last_attempt_at: datetime | None = None
    last_error: str | None = None  # a sentence for the creator; never a stack trace or a secret
    failed_at: datetime | None = None  # every attempt failed (a dead letter) until a replay
    id: int | None = None

    @property
    def state(self) -> DeliveryState:
        if self.processed_at is not None:
            return DeliveryState.PROCESSED
        if self.failed_at is not None:
            return DeliveryState.FAILED
        return DeliveryState.RETRYING if self.attempts else DeliveryState.WAITING
