"""Connecting a creator's platform account: check, choose, sync, keep in sync, recover, disconnect.

Credentials (and the tokens a platform grants) are stored only encrypted, through the TokenCipher; the
webhook URL carries a per-connection token of which only the hash is stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from core.domain.connections import BACKFILL_WINDOW, Connection, ConnectionStatus, StoredDelivery, SyncState
from core.domain.purchases import PurchaseRecord
from core.ports.clock import Clock
from core.ports.jobs import JobQueue
from core.ports.platforms import (
    ConnectChoice,
    ConnectionCheck,
    CredentialField,
    Credentials,
    CredentialsRejected,
    PlatformAdapter,
    PlatformCatalog,
    PlatformError,
    PlatformUnavailable,
    WebhookAuth,
    WebhookDelivery,
    WebhookRejected,
)
from core.ports.security import TokenCipher, WebhookTokens
from core.ports.uow import UnitOfWork
from core.services.purchases import Purchases

log = logging.getLogger(__name__)

POLL_ALL_TASK = "poll_platform_connections"
SYNC_TASK = "sync_connection"
POLL_TASK = "poll_connection"
DELIVERY_TASK = "process_webhook_delivery"
#: Where the credentials keep the webhook URL the creator pastes into a platform that registers none itself.
MANUAL_WEBHOOK_URL = "coursesignal_webhook_url"


class ConnectionFailed(Exception):
    """The connection could not be made; `str(error)` tells the creator what to do next."""


class UnknownConnection(LookupError):
    """No such connection for this account (answered 404 either way, so ids are not probed)."""


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


def _ignore_progress(done: int, total: int | None, *, pages: int | None = None) -> None:
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
    ) -> None:
        self._uow = uow
        self._platforms = platforms
        self._purchases = purchases
        self._cipher = cipher
        self._tokens = webhook_tokens
        self._jobs = jobs
        self._clock = clock
        self._base_url = public_base_url.rstrip("/")

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
        check = self._check(adapter, values)
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

    def run_sync(self, connection_id: int) -> None:
        """The first sync (and the one after a reconnect): everything of the last 30 days, with progress."""
        with self._uow() as uow:
            connection = uow.connections.get(connection_id)
        if connection is None or connection.status is not ConnectionStatus.SYNCING:
            return
        adapter = self._platform(connection.platform)
        now = self._clock.now()
        since = connection.poll_since(now) if connection.last_synced_at else now - BACKFILL_WINDOW
        started_at = connection.sync.started_at

        def progress(done: int, total: int | None, *, pages: int | None = None) -> None:
            with self._uow() as uow:
                uow.connections.record_sync_progress(
                    connection_id,
                    SyncState(pages_done=pages or 0, purchases_found=done, total=total, started_at=started_at),
                )
                uow.commit()

        credentials = self._open(connection)
        try:
            records = list(adapter.fetch_purchases(credentials, since, progress))
        except CredentialsRejected as error:
            self._save_credentials(connection_id, credentials)
            self._fail(connection_id, str(error))
            return
        except PlatformError as error:
            self._save_credentials(connection_id, credentials)
            self._fail(connection_id, f"{error} The sync stopped; reconnect to try again.")
            return
        self._purchases.ingest_in_batches(connection.account_id, records)
        with self._uow() as uow:
            current = uow.connections.get(connection_id)
            if current is None or current.status is ConnectionStatus.DISCONNECTED:
                return
            current.sealed_credentials = self._seal(credentials)
            current.synced(self._clock.now())
            current.sync.purchases_found = sum(isinstance(r, PurchaseRecord) for r in records)
            current.sync.total = current.sync.purchases_found
            uow.connections.update(current)
            uow.commit()

    def poll_live(self) -> int:
        """Queue a poll of every connected connection (the periodic job), and restart syncs that died
        with their worker; returns how many polls were queued."""
        now = self._clock.now()
        with self._uow() as uow:
            live = uow.connections.live()
            due = [c.id for c in live if c.status is ConnectionStatus.CONNECTED]
            stalled = [c for c in live if c.sync_stalled(now)]
            for connection in stalled:
                log.warning("sync of connection %s stalled; starting it again", connection.id)
                connection.start_sync(now)
                uow.connections.update(connection)
            uow.commit()
        for connection in stalled:
            assert connection.id is not None
            self._jobs.enqueue(SYNC_TASK, connection.id)
        for connection_id in due:
            assert connection_id is not None
            self._jobs.enqueue(POLL_TASK, connection_id)
        return len(due)

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
        except CredentialsRejected as error:
            self._save_credentials(connection_id, credentials)
            self._fail(connection_id, str(error))
            return
        except PlatformUnavailable as error:
            self._save_credentials(connection_id, credentials)
            log.warning("poll of connection %s skipped: %s", connection_id, error)
            return
        self._purchases.ingest_in_batches(connection.account_id, records)
        with self._uow() as uow:
            current = uow.connections.get(connection_id)
            if current is None or current.status is not ConnectionStatus.CONNECTED:
                return
            current.sealed_credentials = self._seal(credentials)
            current.last_synced_at = self._clock.now()
            uow.connections.update(current)
            uow.commit()

    # ---- webhooks --------------------------------------------------------------------------------
    def receive_webhook(
        self, platform: str, connection_id: int, token: str | None, delivery: WebhookDelivery
    ) -> WebhookOutcome:
        """Authenticate first, then store the raw delivery once and queue its processing."""
        return self.receive_webhook_with_reason(platform, connection_id, token, delivery).outcome

    def receive_webhook_with_reason(
        self, platform: str, connection_id: int, token: str | None, delivery: WebhookDelivery
    ) -> WebhookReceipt:
        """`receive_webhook`, with the reason a delivery was refused, for the answer's body and the log."""
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
        credentials = self._open(connection)
        received_at = delivery.received_at or self._clock.now()
        delivery = replace(delivery, received_at=received_at)
        try:
            batch = adapter.read_webhook(delivery, credentials)
        except WebhookRejected as error:
            # A wrong signature or an unreadable body: refused (400), stored nowhere, logged with the connection.
            log.warning("webhook for %s connection %s rejected: %s", platform, connection_id, error)
            return WebhookReceipt(WebhookOutcome.REJECTED, str(error))
        except PlatformError as error:
            log.warning("webhook for %s connection %s not read now: %s", platform, connection_id, error)
            return WebhookReceipt(WebhookOutcome.RETRY_LATER, str(error))
        except Exception:
            log.exception("webhook for %s connection %s: the platform failed to read it", platform, connection_id)
            return WebhookReceipt(WebhookOutcome.RETRY_LATER, "CourseSignal could not read this delivery just now.")
        with self._uow() as uow:
            stored_delivery = uow.webhook_deliveries.add(
                StoredDelivery(
                    connection_id=connection_id,
                    event_id=batch.event_id,
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
        """Confirm a stored delivery's records through the platform's API, then count them."""
        with self._uow() as uow:
            delivery = uow.webhook_deliveries.get(delivery_id)
            connection = uow.connections.get(delivery.connection_id) if delivery else None
        if delivery is None or delivery.processed_at is not None:
            return "already processed"
        if connection is None or connection.sealed_credentials is None or not connection.is_live:
            return self._processed(delivery_id, "connection not live")
        adapter = self._platform(connection.platform)
        credentials = self._open(connection)
        try:
            batch = adapter.read_webhook(
                WebhookDelivery(delivery.headers, delivery.body, received_at=delivery.received_at), credentials
            )
            confirmed = adapter.confirm_batch(credentials, batch)
        except WebhookRejected as error:
            return self._processed(delivery_id, f"rejected: {error}")
        except CredentialsRejected as error:
            self._fail(delivery.connection_id, str(error))
            # The poll after a reconnect reads the same records again.
            return self._processed(delivery_id, "credentials refused")
        finally:
            self._save_credentials(connection.id, credentials)
        summary = self._purchases.ingest(connection.account_id, confirmed)
        return self._processed(
            delivery_id, f"{summary.purchases_added} added, {max(0, len(batch.records) - len(confirmed))} not confirmed"
        )

    def _processed(self, delivery_id: int, outcome: str) -> str:
        with self._uow() as uow:
            uow.webhook_deliveries.mark_processed(delivery_id, self._clock.now(), outcome)
            uow.commit()
        return outcome

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
