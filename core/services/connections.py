"""Connecting a creator's platform account: check, choose, sync, keep in sync, recover, disconnect.

Credentials (and the tokens a platform grants) are stored only encrypted, through the TokenCipher; the
webhook URL carries a per-connection token of which only the hash is stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from core.domain.connections import (
    BACKFILL_WINDOW,
    STALLED_SYNC,
    Connection,
    ConnectionStatus,
    DeliveryState,
    StoredDelivery,
    SyncState,
)
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.domain.storable import body_problem
from core.ports.clock import Clock
from core.ports.jobs import ATTEMPTS, RETRY_DELAYS, JobQueue
from core.ports.mailer import Mail, Mailer, MailError
from core.ports.platforms import (
    ConnectChoice,
    ConnectionCheck,
    CredentialField,
    Credentials,
    CredentialsRejected,
    InvalidRecord,
    PlatformAdapter,
    PlatformCatalog,
    PlatformError,
    PlatformRecord,
    PlatformUnavailable,
    WebhookAuth,
    WebhookDelivery,
    WebhookRejected,
)
from core.ports.security import TokenCipher, WebhookTokens
from core.ports.uow import UnitOfWork
from core.services.purchases import SYNC_BATCH_SIZE, IngestSummary, Purchases, store_records

log = logging.getLogger(__name__)

POLL_ALL_TASK = "poll_platform_connections"
SYNC_TASK = "sync_connection"
POLL_TASK = "poll_connection"
DELIVERY_TASK = "process_webhook_delivery"
#: Replay's own task: it runs at once even while the delivery's job waits for a retry (a queue drops a
#: repeat of DELIVERY_TASK it still holds); whichever runs second finds the delivery processed.
REPLAY_TASK = "replay_webhook_delivery"
#: Where the credentials keep the webhook URL the creator pastes into a platform that registers none itself.
MANUAL_WEBHOOK_URL = "coursesignal_webhook_url"

#: The database-side sweep: every DELIVERY_SWEEP_SECONDS it queues again each accepted delivery whose
#: attempt (the first, or the retry after its delay) is LOST_AFTER overdue. Its job was lost: Redis was down
#: or frozen when it was queued, came back empty, or the worker died holding it; or the embedded default
#: restarted. The job queues drop a repeat of a delivery whose job they still hold, so a delivery merely
#: slow is not run twice at once.
DELIVERY_SWEEP_TASK = "sweep_webhook_deliveries"
DELIVERY_SWEEP_SECONDS = 15
LOST_AFTER = timedelta(seconds=30)
#: How many failed deliveries a connection page lists, and how many lost ones one sweep re-queues.
DELIVERIES_SHOWN = 50
LOST_DELIVERIES_PER_SWEEP = 500


class ConnectionFailed(Exception):
    """The connection could not be made; `str(error)` tells the creator what to do next."""


class UnknownConnection(LookupError):
    """No such connection for this account (answered 404 either way, so ids are not probed)."""


class UnknownDelivery(LookupError):
    """No such delivery on this account's connection (answered 404 either way)."""


class DeliveryNotReady(Exception):
    """A delivery that cannot be counted yet (a refund before its purchase): worth another attempt."""


class _SyncSuperseded(Exception):
    """The running sync's checkpoint was refused: the connection was disconnected or reconnected."""


class WebhookOutcome(StrEnum):
    ACCEPTED = "accepted"  # stored; a job will confirm and count it
    DUPLICATE = "duplicate"  # this event id was already received: accepted and ignored
    UNKNOWN = "unknown"  # no such connection, or the token is wrong: stored nowhere
    GONE = "gone"  # the creator disconnected: the platform should stop sending
    REJECTED = "rejected"  # a wrong signature, or a body that is not a delivery we can read: stored nowhere
    RETRY_LATER = "retry_later"  # the platform's API (needed to read it) failed: the platform should retry


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    outcome: WebhookOutcome
    reason: str = ""  # why it was refused, said to the sender


@dataclass(frozen=True, slots=True)
class ConnectionView:
    """What a page (or the JSON API) shows about one connection."""

    id: int
    platform: str
    platform_name: str
    status: ConnectionStatus
    reason: str | None
    account_name: str | None
    last_synced_at: datetime | None
    pages_done: int
    purchases_found: int
    total: int | None
    sync_error: str | None = None  # why reading the platform failed last, while it keeps failing
    failing_since: datetime | None = None

    @property
    def is_failing(self) -> bool:
        return self.failing_since is not None

    @property
    def problem(self) -> str | None:
        """What is wrong, as the creator reads it on the connection: the status's reason, or the failure to
        read the platform with since when."""
        text = self.reason or self.sync_error
        if self.failing_since is not None:
            since = f"Failing since {self.failing_since:%Y-%m-%d %H:%M} UTC."
            text = f"{text} {since}" if text else since
        return text


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """A webhook delivery that has not been counted (yet): what the connection page lists."""

    id: int
    event_id: str
    state: DeliveryState
    received_at: datetime
    attempts: int
    last_attempt_at: datetime | None
    error: str | None
    failed_at: datetime | None


@dataclass(frozen=True, slots=True)
class WebhookSetup:
    """What the creator does by hand when the platform was not asked to send its webhooks itself: add
    `url` in the platform, then fill in `missing` (the optional fields still empty, such as Stripe's
    signing secret) on the connection's page."""

    url: str
    missing: tuple[CredentialField, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectResult:
    connection: ConnectionView
    choices: tuple[ConnectChoice, ...] = ()

    @property
    def needs_choice(self) -> bool:
        return self.connection.status is ConnectionStatus.CHOOSING


def _ignore_progress(done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
    return None


class Connections:
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        platforms: PlatformCatalog,
        purchases: Purchases,
        cipher: TokenCipher,
        webhook_tokens: WebhookTokens,
        jobs: JobQueue,
        clock: Clock,
        public_base_url: str,
        *,
        mailer: Mailer,
    ) -> None:
        self._uow = uow
        self._platforms = platforms
        self._purchases = purchases
        self._cipher = cipher
        self._tokens = webhook_tokens
        self._jobs = jobs
        self._clock = clock
        self._base_url = public_base_url.rstrip("/")
        self._mailer = mailer

    # ---- credentials at rest ---------------------------------------------------------------------
    def _seal(self, credentials: Mapping[str, str]) -> bytes:
        return self._cipher.encrypt(json.dumps(dict(credentials), sort_keys=True).encode())

    def _open(self, connection: Connection) -> Credentials:
        if connection.sealed_credentials is None:
            raise CredentialsRejected("This connection has no credentials any more: reconnect it.")
        values = json.loads(self._cipher.decrypt(connection.sealed_credentials))
        return {str(k): str(v) for k, v in values.items()}

    # ---- reading ---------------------------------------------------------------------------------
    def _platform(self, name: str) -> PlatformAdapter:
        try:
            return self._platforms.get(name)
        except KeyError:
            raise ConnectionFailed(f"CourseSignal cannot connect to {name!r}: no such platform is installed.") from None

    def _view(self, connection: Connection) -> ConnectionView:
        assert connection.id is not None
        try:
            platform_name = self._platforms.get(connection.platform).display_name
        except KeyError:
            platform_name = connection.platform
        return ConnectionView(
            id=connection.id,
            platform=connection.platform,
            platform_name=platform_name,
            status=connection.status,
            reason=connection.status_reason,
            account_name=connection.external_account_name,
            last_synced_at=connection.last_synced_at,
            pages_done=connection.sync.pages_done,
            purchases_found=connection.sync.purchases_found,
            total=connection.sync.total,
            sync_error=connection.sync_error,
            failing_since=connection.failing_since,
        )

    def _owned(self, uow: UnitOfWork, account_id: int, connection_id: int) -> Connection:
        connection = uow.connections.get(connection_id)
        if connection is None or connection.account_id != account_id:
            raise UnknownConnection(f"no connection {connection_id} for account {account_id}")
        return connection

    def list(self, account_id: int) -> list[ConnectionView]:
        with self._uow() as uow:
            return [self._view(c) for c in uow.connections.list_for_account(account_id)]

    def status(self, account_id: int, connection_id: int) -> ConnectionView:
        with self._uow() as uow:
            return self._view(self._owned(uow, account_id, connection_id))

    # ---- connecting ------------------------------------------------------------------------------
    def _check(self, adapter: PlatformAdapter, credentials: Credentials) -> ConnectionCheck:
        missing = [f.label for f in adapter.credential_fields if f.required and not credentials.get(f.name, "").strip()]
        if missing:
            raise ConnectionFailed(f"Fill in {' and '.join(missing)}.")
        try:
            check = adapter.check_credentials(credentials)
        except PlatformError as error:
            raise ConnectionFailed(str(error)) from None
        except Exception:
            log.exception("checking %s credentials failed", adapter.name)
            raise ConnectionFailed(
                f"Something went wrong while checking with {adapter.display_name}. Try again in a minute."
            ) from None
        if not check.ok:
            raise ConnectionFailed(check.message)
        return check

    def connect(self, account_id: int, platform: str, credentials: Mapping[str, str]) -> ConnectResult:
        """Check the credentials at once; on success store them (encrypted) and, when the credentials
        reach one account, start syncing it. Raises ConnectionFailed with what to fix; stores nothing then."""
        adapter = self._platform(platform)
        values: Credentials = {k: v.strip() for k, v in credentials.items()}
        try:
            check = self._check(adapter, values)
        except ConnectionFailed as error:
            self._record_attempt(account_id, platform, str(error))
            raise
        self._record_attempt(account_id, platform, None)
        connection = Connection(
            account_id=account_id,
            platform=platform,
            status=ConnectionStatus.CHOOSING,
            created_at=self._clock.now(),
            sealed_credentials=self._seal(values),
        )
        with self._uow() as uow:
            uow.connections.add(connection)
            uow.commit()
        return self._after_check(adapter, connection, values, check, keep=None)

    def _record_attempt(self, account_id: int, platform: str, error: str | None) -> None:
        """For the operator's connection success figures (docs/metrics.md)."""
        with self._uow() as uow:
            uow.connections.record_attempt(account_id, platform, self._clock.now(), error[:300] if error else None)
            uow.commit()

    def reconnect(self, account_id: int, connection_id: int, credentials: Mapping[str, str]) -> ConnectResult:
        """New credentials for an existing connection: resumes where it stopped, without duplicates."""
        with self._uow() as uow:
            connection = self._owned(uow, account_id, connection_id)
        adapter = self._platform(connection.platform)
        values: Credentials = {k: v.strip() for k, v in credentials.items()}
        self._keep_optional(adapter, connection, values)
        check = self._check(adapter, values)
        old_hooks = connection.webhook_ids
        if old_hooks:
            # The old key may be revoked; the new one usually reaches the same account's hooks.
            try:
                adapter.remove_webhooks(values, old_hooks)
            except PlatformError as error:
                log.info("could not remove the old hooks of connection %s: %s", connection_id, error)
            connection.webhook_ids = ()
        connection.sealed_credentials = self._seal(values)
        connection.status = ConnectionStatus.CHOOSING
        connection.status_reason = None
        with self._uow() as uow:
            uow.connections.update(connection)
            uow.commit()
        return self._after_check(adapter, connection, values, check, keep=connection.external_account_id)

    def _keep_optional(self, adapter: PlatformAdapter, connection: Connection, values: Credentials) -> None:
        """An optional field left empty on reconnect keeps its stored value (a signing secret still valid)."""
        try:
            stored = self._open(connection)
        except (CredentialsRejected, ValueError):
            return
        for field in adapter.credential_fields:
            if not field.required and not values.get(field.name) and stored.get(field.name):
                values[field.name] = stored[field.name]

    def _after_check(
        self,
        adapter: PlatformAdapter,
        connection: Connection,
        credentials: Credentials,
        check: ConnectionCheck,
        keep: str | None,
    ) -> ConnectResult:
        if check.choices:
            chosen = next((c for c in check.choices if c.id == keep), None)
            if chosen is None and len(check.choices) == 1:
                chosen = check.choices[0]
            if chosen is None:
                return ConnectResult(self._view(connection), check.choices)
            credentials[check.choice_field] = chosen.id
            connection.external_account_id, connection.external_account_name = chosen.id, chosen.label
        self._activate(adapter, connection, credentials)
        return ConnectResult(self._view(connection), check.choices)

    def choices(self, account_id: int, connection_id: int) -> tuple[ConnectChoice, ...]:
        """The accounts the stored credentials reach, asked again of the platform."""
        with self._uow() as uow:
            connection = self._owned(uow, account_id, connection_id)
        adapter = self._platform(connection.platform)
        try:
            credentials = self._open(connection)
        except CredentialsRejected as error:
            raise ConnectionFailed(str(error)) from None
        check = self._check(adapter, credentials)
        self._save_credentials(connection.id, credentials)
        return check.choices

    def choose(self, account_id: int, connection_id: int, choice_id: str) -> ConnectionView:
        """The creator picked one of the platform accounts the credentials reach: start reading it."""
        with self._uow() as uow:
            connection = self._owned(uow, account_id, connection_id)
        if connection.status is not ConnectionStatus.CHOOSING:
            raise ConnectionFailed("This connection is already set up.")
        adapter = self._platform(connection.platform)
        credentials = self._open(connection)
        check = self._check(adapter, credentials)
        chosen = next((c for c in check.choices if c.id == choice_id), None)
        if chosen is None:
            raise ConnectionFailed(f"Choose one of your {adapter.display_name} sites from the list.")
        credentials[check.choice_field] = chosen.id
        connection.external_account_id, connection.external_account_name = chosen.id, chosen.label
        self._activate(adapter, connection, credentials)
        return self._view(connection)

    def _webhook_url(self, adapter: PlatformAdapter, connection_id: int, token: str | None) -> str:
        url = f"{self._base_url}/webhooks/{adapter.name}/{connection_id}"
        return f"{url}/{token}" if token else url

    def _activate(self, adapter: PlatformAdapter, connection: Connection, credentials: Credentials) -> None:
        """Register the webhooks, then queue the sync: from here on, the connection is live."""
        assert connection.id is not None
        self._refuse_a_second_connection(adapter, connection)
        token: str | None = None
        if adapter.webhook_auth is WebhookAuth.URL_TOKEN:
            token, connection.webhook_token_hash = self._tokens.issue()
        url = self._webhook_url(adapter, connection.id, token)
        try:
            connection.webhook_ids = tuple(adapter.register_webhooks(credentials, url))
        except PlatformError as error:
            connection.sealed_credentials = self._seal(credentials)
            with self._uow() as uow:
                uow.connections.update(connection)
                uow.commit()
            raise ConnectionFailed(str(error)) from None
        if not connection.webhook_ids:
            # Pasted by hand into the platform: kept (encrypted, with its token) to show on the connection's page.
            credentials[MANUAL_WEBHOOK_URL] = url
        connection.sealed_credentials = self._seal(credentials)
        connection.start_sync(self._clock.now())
        with self._uow() as uow:
            uow.connections.update(connection)
            uow.commit()
        self._jobs.enqueue(SYNC_TASK, connection.id)

    def _refuse_a_second_connection(self, adapter: PlatformAdapter, connection: Connection) -> None:
        """One platform account is read by one connection: a second would register a second hook."""
        if connection.external_account_id is None:
            return
        with self._uow() as uow:
            twins = [
                c
                for c in uow.connections.list_for_account(connection.account_id)
                if c.id != connection.id
                and c.platform == connection.platform
                and c.external_account_id == connection.external_account_id
                and c.status is not ConnectionStatus.DISCONNECTED
            ]
            if not twins:
                return
            connection.disconnect()
            uow.connections.update(connection)
            uow.commit()
        raise ConnectionFailed(
            f"{connection.external_account_name or 'This site'} is already connected. Open that connection "
            f"to reconnect it with new {adapter.display_name} credentials instead."
        )

    def webhook_setup(self, account_id: int, connection_id: int) -> WebhookSetup | None:
        """The webhook URL to add in the platform by hand, and what is still to fill in; None when the
        platform registered its webhooks itself (or the connection is not live)."""
        with self._uow() as uow:
            connection = self._owned(uow, account_id, connection_id)
        if not connection.is_live and connection.status is not ConnectionStatus.NEEDS_ATTENTION:
            return None
        try:
            adapter = self._platforms.get(connection.platform)
            credentials = self._open(connection)
        except (KeyError, CredentialsRejected):
            return None
        url = credentials.get(MANUAL_WEBHOOK_URL)
        if not url:
            return None
        missing = tuple(f for f in adapter.credential_fields if not f.required and not credentials.get(f.name))
        return WebhookSetup(url=url, missing=missing)

    def complete_credentials(self, account_id: int, connection_id: int, values: Mapping[str, str]) -> ConnectionView:
        """Fill in optional credential fields after connecting (Stripe's signing secret, which exists only
        once the creator added the webhook URL): checked with the rest, then stored, encrypted."""
        with self._uow() as uow:
            connection = self._owned(uow, account_id, connection_id)
        adapter = self._platform(connection.platform)
        optional = {f.name for f in adapter.credential_fields if not f.required}
        given = {k: v.strip() for k, v in values.items() if k in optional and v.strip()}
        if not given:
            raise ConnectionFailed("Paste the value first.")
        try:
            credentials = self._open(connection)
        except CredentialsRejected as error:
            raise ConnectionFailed(str(error)) from None
        credentials.update(given)
        self._check(adapter, credentials)
        self._save_credentials(connection.id, credentials)
        return self._view(connection)

    def disconnect(self, account_id: int, connection_id: int) -> ConnectionView:
        """Remove the platform's hooks (as far as the platform lets us) and forget the credentials."""
        with self._uow() as uow:
            connection = self._owned(uow, account_id, connection_id)
        if connection.webhook_ids and connection.sealed_credentials is not None:
            adapter = self._platform(connection.platform)
            try:
                adapter.remove_webhooks(self._open(connection), connection.webhook_ids)
            except PlatformError as error:
                log.info("hooks of connection %s not removed: %s", connection_id, error)
        connection.disconnect()
        with self._uow() as uow:
            uow.connections.update(connection)
            uow.commit()
        return self._view(connection)

    # ---- syncing (jobs) --------------------------------------------------------------------------
    def _save_credentials(self, connection_id: int | None, credentials: Credentials) -> None:
        """Store credentials an adapter may have changed (a refreshed token), unless disconnected since."""
        assert connection_id is not None
        with self._uow() as uow:
            connection = uow.connections.get(connection_id)
            if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
                return
            connection.sealed_credentials = self._seal(credentials)
            uow.connections.update(connection)
            uow.commit()

    def _fail(self, connection_id: int, reason: str) -> None:
        with self._uow() as uow:
            connection = uow.connections.get(connection_id)
            if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
                return
            connection.needs_attention(reason)
            uow.connections.update(connection)
            uow.commit()

    def run_sync(self, connection_id: int) -> str:
        """The first sync (and the one after a reconnect): everything of the last 30 days, with progress.

        Each page is stored with its checkpoint in one transaction, so a run that dies (its worker killed)
        is carried on from the last stored page by the next one, and a page stored twice counts once. A
        run whose heartbeat is fresh belongs to another worker: this one leaves it alone.
        """
        now = self._clock.now()
        with self._uow() as uow:
            connection = uow.connections.get(connection_id)
            if connection is None or connection.status is not ConnectionStatus.SYNCING:
                return "not syncing"
            started_at = connection.sync.started_at
            if started_at is None:  # a row from before runs were named by their start
                started_at = now
                connection.sync.started_at = now
                uow.connections.update(connection)
            if not uow.connections.claim_sync(connection_id, started_at, now, now - STALLED_SYNC):
                return "already running"
            uow.commit()
        adapter = self._platform(connection.platform)
        # The window is fixed by the run's start, so a resumed run reads exactly what the first one would.
        since = connection.poll_since(started_at) if connection.last_synced_at else started_at - BACKFILL_WINDOW
        resume_at = connection.sync.cursor
        last = replace(connection.sync) if resume_at else SyncState(started_at=started_at)
        pending: list[PlatformRecord] = []
        refunds: list[RefundRecord] = []
        read = 0

        def checkpoint(done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
            nonlocal last
            last = SyncState(
                pages_done=pages or 0,
                purchases_found=done,
                total=total,
                started_at=started_at,
                cursor=cursor,
                heartbeat_at=self._clock.now(),
            )
            # A page can hold hundreds of records: store them in short transactions (SQLite has one write lock,
            # and the tracker keeps writing), the last one together with the page's checkpoint. A crash in
            # between only means the page is read again; records read twice change nothing.
            ordered = sorted(pending, key=lambda record: not isinstance(record, PurchaseRecord))
            *earlier, final = [ordered[i : i + SYNC_BATCH_SIZE] for i in range(0, len(ordered), SYNC_BATCH_SIZE)] or [
                []
            ]
            for chunk in earlier:
                with self._uow() as uow:
                    current = uow.connections.get(connection_id)
                    if (
                        current is None
                        or current.status is not ConnectionStatus.SYNCING
                        or current.sync.started_at != started_at
                    ):
                        raise _SyncSuperseded
                    store_records(uow, connection.account_id, chunk)
                    uow.commit()
            with self._uow() as uow:
                store_records(uow, connection.account_id, final)
                if not uow.connections.record_sync_progress(connection_id, last):
                    raise _SyncSuperseded
                uow.commit()
            pending.clear()
            # A token refreshed during this page survives a worker that dies before the end (Kajabi's
            # refresh tokens are single-use).
            self._save_credentials(connection_id, credentials)

        credentials = self._open(connection)
        try:
            if resume_at:
                records = adapter.resume_purchases(credentials, since, checkpoint, resume_at)
            else:
                records = adapter.fetch_purchases(credentials, since, checkpoint)
            for record in records:
                pending.append(record)
                read += isinstance(record, PurchaseRecord)
                if isinstance(record, RefundRecord):
                    refunds.append(record)
        except _SyncSuperseded:
            log.info("sync of connection %s stopped: the connection changed meanwhile", connection_id)
            return "superseded"
        except CredentialsRejected as error:
            self._save_credentials(connection_id, credentials)
            self._fail(connection_id, str(error))
            return "credentials refused"
        except PlatformUnavailable as error:
            # Worth retrying: the queue runs this again after a delay, carrying on from the last page.
            self._save_credentials(connection_id, credentials)
            self._note_retry(connection_id, f"{error} CourseSignal keeps trying on its own.")
            self._reading_failed(connection_id, str(error))
            raise
        except PlatformError as error:
            self._save_credentials(connection_id, credentials)
            self._fail(connection_id, f"{error} The sync stopped; reconnect to try again.")
            return "failed"
        with self._uow() as uow:
            # What no page checkpoint stored, and the refunds again: one read before its purchase counts now.
            store_records(uow, connection.account_id, [*pending, *refunds])
            current = uow.connections.get(connection_id)
            if (
                current is None
                or current.status is not ConnectionStatus.SYNCING
                or current.sync.started_at != started_at
            ):
                return "superseded"
            found = last.purchases_found if last.pages_done or last.purchases_found else read
            current.sealed_credentials = self._seal(credentials)
            current.synced(self._clock.now())
            current.sync = replace(last, purchases_found=found, total=found, cursor=None, heartbeat_at=None)
            uow.connections.update(current)
            uow.commit()
        return f"{found} purchases"

    def _note_retry(self, connection_id: int, reason: str) -> None:
        """Say on a syncing connection why it is slow, without stopping it."""
        with self._uow() as uow:
            connection = uow.connections.get(connection_id)
            if connection is None or connection.status is not ConnectionStatus.SYNCING:
                return
            connection.status_reason = reason
            uow.connections.update(connection)
            uow.commit()

    def poll_live(self) -> int:
        """Queue a poll of every connected connection (the periodic job) and carry on syncs that died with
        their worker; returns how many polls were queued."""
        now = self._clock.now()
        with self._uow() as uow:
            live = uow.connections.live()
            due = [c.id for c in live if c.status is ConnectionStatus.CONNECTED]
            stalled = [c.id for c in live if c.sync_stalled(now)]
        for connection_id in stalled:
            log.warning("sync of connection %s stalled; carrying it on from its last checkpoint", connection_id)
            assert connection_id is not None
            self._jobs.enqueue(SYNC_TASK, connection_id)
        for connection_id in due:
            assert connection_id is not None
            self._jobs.enqueue(POLL_TASK, connection_id)
        return len(due)

    def sweep_deliveries(self) -> int:
        """Queue again every accepted delivery whose attempt is overdue (its job was lost); how many."""
        now = self._clock.now()
        with self._uow() as uow:
            waiting = uow.webhook_deliveries.stalled(now - LOST_AFTER, LOST_DELIVERIES_PER_SWEEP)
        lost = [d.id for d in waiting if d.id is not None and attempt_due(d) + LOST_AFTER <= now]
        for delivery_id in lost:
            self._jobs.enqueue(DELIVERY_TASK, delivery_id)
        if lost:
            log.warning("queued again %d webhook deliveries whose job was lost", len(lost))
        return len(lost)

    def poll(self, connection_id: int) -> None:
        """Read what is new since the last sync: refunds (which no platform webhook reports) and any
        purchase whose webhook was missed. A record read twice changes nothing."""
        with self._uow() as uow:
            connection = uow.connections.get(connection_id)
        if connection is None or connection.status is not ConnectionStatus.CONNECTED:
            return
        adapter = self._platform(connection.platform)
        credentials = self._open(connection)
        try:
            records = list(
                adapter.fetch_purchases(credentials, connection.poll_since(self._clock.now()), _ignore_progress)
            )
            self._purchases.ingest_in_batches(connection.account_id, records)
        except CredentialsRejected as error:
            self._save_credentials(connection_id, credentials)
            self._fail(connection_id, str(error))
            return
        except PlatformError as error:
            # The platform down, a plugin's failure, a record it got wrong: shown on the connection, and the
            # next periodic poll tries again (a retry of this job would only add load).
            self._save_credentials(connection_id, credentials)
            log.warning("poll of connection %s failed: %s", connection_id, error)
            self._reading_failed(connection_id, str(error))
            return
        with self._uow() as uow:
            current = uow.connections.get(connection_id)
            if current is None or current.status is not ConnectionStatus.CONNECTED:
                return
            current.sealed_credentials = self._seal(credentials)
            current.last_synced_at = self._clock.now()
            if current.reading_recovered():
                log.info("connection %s reads its platform again", connection_id)
            uow.connections.update(current)
            uow.commit()

    def _reading_failed(self, connection_id: int, reason: str) -> None:
        """Keep the failure on the connection (since when, and why); once it has lasted
        SYNC_FAILURE_EMAIL_AFTER, the creator gets one email about it."""
        with self._uow() as uow:
            connection = uow.connections.get(connection_id)
            if connection is None or not connection.is_live:
                return
            email_due = connection.reading_failed(reason, self._clock.now())
            uow.connections.update(connection)
            account = uow.accounts.get(connection.account_id) if email_due else None
            uow.commit()
        if account is not None:
            self._tell_creator(connection, account.email)

    def _tell_creator(self, connection: Connection, address: str) -> None:
        assert connection.id is not None
        assert connection.failing_since is not None
        try:
            name = self._platforms.get(connection.platform).display_name
        except KeyError:
            name = connection.platform
        try:
            self._mailer.send(
                Mail(
                    to=address,
                    subject=f"CourseSignal cannot read your {name} sales",
                    text=(
                        f"Since {connection.failing_since:%Y-%m-%d %H:%M} UTC, CourseSignal has not been able to read "
                        f"new sales and refunds from {name}:\n\n{connection.sync_error}\n\n"
                        "CourseSignal keeps trying every few minutes, and what it missed comes in once it gets "
                        "through. Webhooks still arrive meanwhile. If this goes on, open the connection and "
                        f"reconnect it:\n\n{self._base_url}/connections/{connection.id}\n\n"
                        "This is the only email about it until it works again."
                    ),
                )
            )
        except MailError:
            log.exception("the sync-failure email for connection %s could not be sent", connection.id)

    # ---- webhooks --------------------------------------------------------------------------------
    def receive_webhook(
        self, platform: str, connection_id: int, token: str | None, delivery: WebhookDelivery
    ) -> WebhookReceipt:
        """Authenticate first, then store the raw delivery once and queue its processing; the receipt says
        how it went, with the reason a delivery was refused for the answer's body and the log."""
        try:
            adapter = self._platforms.get(platform)
        except KeyError:
            return WebhookReceipt(WebhookOutcome.UNKNOWN)
        with self._uow() as uow:
            connection = uow.connections.get(connection_id)
        if connection is None or connection.platform != platform:
            return WebhookReceipt(WebhookOutcome.UNKNOWN)
        if adapter.webhook_auth is WebhookAuth.URL_TOKEN:
            stored = connection.webhook_token_hash
            if token is None or stored is None or not self._tokens.matches(token, stored):
                log.warning("webhook for %s connection %s: wrong or missing URL token", platform, connection_id)
                return WebhookReceipt(WebhookOutcome.UNKNOWN)
        elif token is not None:
            return WebhookReceipt(WebhookOutcome.UNKNOWN)
        if connection.status is ConnectionStatus.DISCONNECTED:
            return WebhookReceipt(WebhookOutcome.GONE)
        if connection.status is ConnectionStatus.CHOOSING:
            return WebhookReceipt(WebhookOutcome.UNKNOWN)
        if problem := body_problem(delivery.body):
            # Kept, it would fail on every attempt to store what it says; the sender learns why at once.
            log.warning("webhook for %s connection %s refused: the body %s", platform, connection_id, problem)
            return WebhookReceipt(WebhookOutcome.REJECTED, f"the body {problem}")
        credentials = self._open(connection)
        received_at = delivery.received_at or self._clock.now()
        delivery = replace(delivery, received_at=received_at)
        try:
            event_id = adapter.read_webhook(delivery, credentials).event_id
        except WebhookRejected as error:
            # A wrong signature or an unreadable body: refused (400), stored nowhere, logged with the connection.
            log.warning("webhook for %s connection %s rejected: %s", platform, connection_id, error)
            return WebhookReceipt(WebhookOutcome.REJECTED, str(error))
        except PlatformError as error:
            # Reading it needed the platform's API, which failed: keep the delivery anyway (by a digest of
            # its body, so a repeat is still one) and let the job's retries read it.
            log.warning("webhook for %s connection %s stored unread: %s", platform, connection_id, error)
            event_id = "sha256:" + hashlib.sha256(delivery.body).hexdigest()
        except Exception:
            log.exception("webhook for %s connection %s: the platform failed to read it", platform, connection_id)
            return WebhookReceipt(WebhookOutcome.RETRY_LATER, "CourseSignal could not read this delivery just now.")
        with self._uow() as uow:
            stored_delivery = uow.webhook_deliveries.add(
                StoredDelivery(
                    connection_id=connection_id,
                    event_id=event_id,
                    body=delivery.body,
                    headers=dict(delivery.headers),
                    received_at=received_at,
                )
            )
            uow.commit()
        if stored_delivery is None:
            return WebhookReceipt(WebhookOutcome.DUPLICATE)
        assert stored_delivery.id is not None
        self._jobs.enqueue(DELIVERY_TASK, stored_delivery.id)
        return WebhookReceipt(WebhookOutcome.ACCEPTED)

    def process_delivery(self, delivery_id: int) -> str:
        """Confirm a stored delivery's records through the platform's API, then count them.

        The records and the delivery's "processed" mark are stored in one transaction, so a run that
        dies half way stored nothing and a second run (a retry, a replay) finds it processed. A failed
        attempt raises, for the queue to retry after a delay, until the last of ATTEMPTS: that one marks
        the delivery failed, with the error in plain words, for the creator to see and replay.
        """
        now = self._clock.now()
        with self._uow() as uow:
            delivery = uow.webhook_deliveries.get(delivery_id)
            if delivery is None or delivery.state is DeliveryState.PROCESSED:
                return "already processed"
            if delivery.state is DeliveryState.FAILED:
                return "failed: replay it to try again"
            delivery = replace(delivery, attempts=delivery.attempts + 1, last_attempt_at=now)
            uow.webhook_deliveries.record_attempt(delivery)
            uow.commit()
        try:
            return self._process(delivery)
        except Exception as error:
            return self._attempt_failed(delivery, error)

    def _process(self, delivery: StoredDelivery) -> str:
        assert delivery.id is not None
        with self._uow() as uow:
            connection = uow.connections.get(delivery.connection_id)
        if connection is None or connection.sealed_credentials is None or not connection.is_live:
            return self._processed(delivery.id, "connection not live")
        adapter = self._platform(connection.platform)
        credentials = self._open(connection)
        try:
            batch = adapter.read_webhook(
                WebhookDelivery(delivery.headers, delivery.body, received_at=delivery.received_at), credentials
            )
            confirmed = adapter.confirm_batch(credentials, batch)
        except WebhookRejected as error:
            return self._processed(delivery.id, f"rejected: {error}")
        except CredentialsRejected as error:
            self._fail(delivery.connection_id, str(error))
            # The poll after a reconnect reads the same records again.
            return self._processed(delivery.id, "credentials refused")
        finally:
            self._save_credentials(connection.id, credentials)
        with self._uow() as uow:
            summary = store_records(uow, connection.account_id, confirmed)
            if summary.refunds_without_purchase:
                raise DeliveryNotReady(
                    f"A refund arrived before its purchase; {adapter.display_name}'s purchase is not in "
                    "CourseSignal yet. It is tried again on its own, and the next sync brings the purchase."
                )
            outcome = _delivery_outcome(
                summary,
                unconfirmed=max(0, len(batch.records) - len(confirmed)),
                held_refunds=any(isinstance(record, RefundRecord) for record in confirmed),
            )
            if not uow.webhook_deliveries.mark_processed(delivery.id, self._clock.now(), outcome):
                return "already processed"  # another run got there first; leaving the block rolls back
            uow.commit()
        return outcome

    def _attempt_failed(self, delivery: StoredDelivery, error: Exception) -> str:
        """Record a failed attempt; raise again for the queue to retry, unless it was the last one."""
        # A record the plugin got wrong stays wrong however often it is read: failed at once, for a replay once
        # the plugin is fixed.
        last = delivery.attempts >= ATTEMPTS or isinstance(error, InvalidRecord)
        reason = _plain_error(error)
        log.warning(
            "webhook delivery %s attempt %d/%d failed: %s",
            delivery.id,
            delivery.attempts,
            ATTEMPTS,
            reason,
            exc_info=not isinstance(error, PlatformError | DeliveryNotReady),
        )
        with self._uow() as uow:
            uow.webhook_deliveries.record_attempt(
                replace(delivery, last_error=reason, failed_at=self._clock.now() if last else None)
            )
            uow.commit()
        if not last:
            raise error
        return f"failed after {delivery.attempts} attempts: {reason}"

    def _processed(self, delivery_id: int, outcome: str) -> str:
        with self._uow() as uow:
            if not uow.webhook_deliveries.mark_processed(delivery_id, self._clock.now(), outcome):
                return "already processed"
            uow.commit()
        return outcome

    # ---- failed deliveries -----------------------------------------------------------------------
    def unfinished_deliveries(self, account_id: int, connection_id: int) -> tuple[DeliveryView, ...]:
        """The connection's deliveries that failed, or are being retried, newest first."""
        with self._uow() as uow:
            self._owned(uow, account_id, connection_id)
            return tuple(_delivery_view(d) for d in uow.webhook_deliveries.unfinished(connection_id, DELIVERIES_SHOWN))

    def replay_delivery(self, account_id: int, connection_id: int, delivery_id: int) -> DeliveryState:
        """Queue a delivery's processing again, with a fresh set of attempts. A processed one is left as
        it is (processing it again would change nothing); its state is returned either way."""
        with self._uow() as uow:
            self._owned(uow, account_id, connection_id)
            delivery = uow.webhook_deliveries.get(delivery_id)
            if delivery is None or delivery.connection_id != connection_id:
                raise UnknownDelivery(f"no delivery {delivery_id} on connection {connection_id}")
            if delivery.state is DeliveryState.PROCESSED:
                return delivery.state
            uow.webhook_deliveries.record_attempt(replace(delivery, attempts=0, failed_at=None))
            uow.commit()
        self._jobs.enqueue(REPLAY_TASK, delivery_id)
        return DeliveryState.WAITING

    # ---- keys ------------------------------------------------------------------------------------
    def rotate_keys(self) -> int:
        """Re-encrypt every stored credential with the current key; returns how many."""
        with self._uow() as uow:
            connections = uow.connections.with_credentials()
            for connection in connections:
                assert connection.sealed_credentials is not None
                connection.sealed_credentials = self._cipher.rotate(connection.sealed_credentials)
                uow.connections.update(connection)
            uow.commit()
        return len(connections)


def _delivery_outcome(summary: IngestSummary, *, unconfirmed: int, held_refunds: bool) -> str:
    """What a processed delivery counted for, as its row keeps it: "1 added, 0 not confirmed", with the
    refunds when it held any ("0 added, 1 refund counted, 0 not confirmed")."""
    refunds = summary.refunds_added
    counted = f", {refunds} refund{'s' * (refunds != 1)} counted" if held_refunds else ""
    return f"{summary.purchases_added} added{counted}, {unconfirmed} not confirmed"


def attempt_due(delivery: StoredDelivery) -> datetime:
    """When the delivery's next attempt is due: at once on arrival, then each retry delay after the last."""
    return attempt_due_at(delivery.attempts, delivery.last_attempt_at, delivery.received_at)


def attempt_due_at(attempts: int, last_attempt_at: datetime | None, received_at: datetime) -> datetime:
    if attempts == 0 or last_attempt_at is None:
        return received_at
    delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    return last_attempt_at + timedelta(seconds=delay)


def _plain_error(error: Exception) -> str:
    """What went wrong, in words a creator can read and safe to store: our own errors carry such a
    sentence; anything else is named by its kind only (its message may hold a URL, a query or a secret)."""
    if isinstance(error, PlatformError | DeliveryNotReady) and str(error):
        return str(error)[:500]
    return (
        f"CourseSignal could not process this delivery ({type(error).__name__}). It was kept; replay it, "
        "and if it fails again, write to support."
    )


def _delivery_view(delivery: StoredDelivery) -> DeliveryView:
    assert delivery.id is not None
    return DeliveryView(
        id=delivery.id,
        event_id=delivery.event_id,
        state=delivery.state,
        received_at=delivery.received_at,
        attempts=delivery.attempts,
        last_attempt_at=delivery.last_attempt_at,
        error=delivery.last_error,
        failed_at=delivery.failed_at,
    )
