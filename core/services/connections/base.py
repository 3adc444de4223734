"""What the connections service shares across its parts: the job names, the errors every part raises, the
view of a connection, and the base class holding the collaborators and the credentials at rest.

Credentials (and the tokens a platform grants) are stored only encrypted, through the TokenCipher; the
webhook URL carries a per-connection token of which only the hash is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from core.domain.connections import Connection, ConnectionStatus
from core.ports.clock import Clock
from core.ports.jobs import JobQueue
from core.ports.mailer import Mailer
from core.ports.platforms import Credentials, CredentialsRejected, PlatformAdapter, PlatformCatalog
from core.ports.security import TokenCipher, WebhookTokens
from core.ports.uow import UnitOfWork
from core.services.purchases import Purchases

POLL_ALL_TASK = "poll_platform_connections"
SYNC_TASK = "sync_connection"
POLL_TASK = "poll_connection"
DELIVERY_TASK = "process_webhook_delivery"
#: Replay's own task: it runs at once even while the delivery's job waits for a retry (a queue drops a
#: repeat of DELIVERY_TASK it still holds); whichever runs second finds the delivery processed.
REPLAY_TASK = "replay_webhook_delivery"


class ConnectionFailed(Exception):
    """The connection could not be made; `str(error)` tells the creator what to do next."""


class UnknownConnection(LookupError):
    """No such connection for this account (answered 404 either way, so ids are not probed)."""


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


class ConnectionsBase:
    """What every part of the service shares: its collaborators, credentials sealed at rest, the platform
    adapter of a connection, and the view a page shows of one."""

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
