"""Connecting a creator's platform account: check the credentials, choose the platform account they reach,
register the webhooks and queue the first sync; reconnect, complete and disconnect.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from core.domain.connections import Connection, ConnectionStatus
from core.ports.platforms import (
    ConnectChoice,
    ConnectionCheck,
    CredentialField,
    Credentials,
    CredentialsRejected,
    PlatformAdapter,
    PlatformError,
    WebhookAuth,
)
from core.services.connections.base import SYNC_TASK, ConnectionFailed, ConnectionsBase, ConnectionView

log = logging.getLogger(__name__)


#: Where the credentials keep the webhook URL the creator pastes into a platform that registers none itself.
MANUAL_WEBHOOK_URL = "coursesignal_webhook_url"


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


class Connecting(ConnectionsBase):
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
