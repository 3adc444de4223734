"""Platform connections and the webhook deliveries stored for them."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence import tables as t
from core.domain.connections import Connection as PlatformConnection
from core.domain.connections import ConnectionStatus, StoredDelivery, SyncState
from core.domain.delivery_privacy import erase_from_body, erase_from_text, mentions


class SqlConnections:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def record_attempt(self, account_id: int, platform: str, attempted_at: datetime, error: str | None) -> None:
        self._c.execute(
            insert(t.connection_attempts).values(
                user_id=account_id, platform=platform, attempted_at=attempted_at, error=error
            )
        )

    @staticmethod
    def _connection(row: Row[Any]) -> PlatformConnection:
        return PlatformConnection(
            id=row.id,
            account_id=row.user_id,
            platform=row.platform,
            status=ConnectionStatus(row.status),
            created_at=row.created_at,
            sealed_credentials=bytes(row.encrypted_credentials) if row.encrypted_credentials is not None else None,
            external_account_id=row.external_account_id,
            external_account_name=row.external_account_name,
            webhook_ids=tuple(row.webhook_ids or ()),
            webhook_token_hash=row.webhook_token_hash,
            status_reason=row.status_reason,
            last_synced_at=row.last_synced_at,
            sync=SyncState(
                pages_done=row.sync_pages_done,
                purchases_found=row.sync_purchases_found,
                total=row.sync_total,
                started_at=row.sync_started_at,
                cursor=row.sync_cursor,
                heartbeat_at=row.sync_heartbeat_at,
            ),
            sync_error=row.sync_error,
            failing_since=row.failing_since,
            failure_emailed_at=row.failure_emailed_at,
        )

    @staticmethod
    def _values(connection: PlatformConnection) -> dict[str, Any]:
        return {
            "status": connection.status.value,
            "encrypted_credentials": connection.sealed_credentials,
            "external_account_id": connection.external_account_id,
            "external_account_name": connection.external_account_name,
            "webhook_ids": list(connection.webhook_ids),
            "webhook_token_hash": connection.webhook_token_hash,
            "status_reason": connection.status_reason,
            "last_synced_at": connection.last_synced_at,
            "sync_error": connection.sync_error,
            "failing_since": connection.failing_since,
            "failure_emailed_at": connection.failure_emailed_at,
            **SqlConnections._progress(connection.sync),
        }

    @staticmethod
    def _progress(progress: SyncState) -> dict[str, Any]:
        return {
            "sync_pages_done": progress.pages_done,
            "sync_purchases_found": progress.purchases_found,
            "sync_total": progress.total,
            "sync_started_at": progress.started_at,
            "sync_cursor": progress.cursor,
            "sync_heartbeat_at": progress.heartbeat_at,
        }

    def _where(self, *conditions: Any) -> list[PlatformConnection]:
        rows = self._c.execute(
            select(t.platform_integrations).where(*conditions).order_by(t.platform_integrations.c.id)
        )
        return [self._connection(row) for row in rows]

    def add(self, connection: PlatformConnection) -> PlatformConnection:
        connection.id = self._c.execute(
            insert(t.platform_integrations)
            .values(
                user_id=connection.account_id,
                platform=connection.platform,
                created_at=connection.created_at,
                **self._values(connection),
            )
            .returning(t.platform_integrations.c.id)
        ).scalar_one()
        return connection

    def get(self, connection_id: int) -> PlatformConnection | None:
        found = self._where(t.platform_integrations.c.id == connection_id)
        return found[0] if found else None

    def update(self, connection: PlatformConnection) -> None:
        self._c.execute(
            update(t.platform_integrations)
            .where(t.platform_integrations.c.id == connection.id)
            .values(**self._values(connection))
        )

    def record_sync_progress(self, connection_id: int, progress: SyncState) -> bool:
        c = t.platform_integrations.c
        changed = self._c.execute(
            update(t.platform_integrations)
            .where(
                c.id == connection_id,
                c.status == ConnectionStatus.SYNCING.value,
                c.sync_started_at == progress.started_at,
            )
            .values(**self._progress(progress))
        ).rowcount
        return bool(changed)

    def claim_sync(self, connection_id: int, started_at: datetime, now: datetime, stale_before: datetime) -> bool:
        c = t.platform_integrations.c
        changed = self._c.execute(
            update(t.platform_integrations)
            .where(
                c.id == connection_id,
                c.status == ConnectionStatus.SYNCING.value,
                c.sync_started_at == started_at,
                or_(c.sync_heartbeat_at.is_(None), c.sync_heartbeat_at < stale_before),
            )
            .values(sync_heartbeat_at=now)
        ).rowcount
        return bool(changed)

    def list_for_account(self, account_id: int) -> Sequence[PlatformConnection]:
        return self._where(t.platform_integrations.c.user_id == account_id)

    def live(self) -> Sequence[PlatformConnection]:
        return self._where(
            t.platform_integrations.c.status.in_([ConnectionStatus.SYNCING.value, ConnectionStatus.CONNECTED.value])
        )

    def with_credentials(self) -> Sequence[PlatformConnection]:
        return self._where(t.platform_integrations.c.encrypted_credentials.is_not(None))


class SqlWebhookDeliveries:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, delivery: StoredDelivery) -> StoredDelivery | None:
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(t.webhook_deliveries)
            .values(
                integration_id=delivery.connection_id,
                event_id=delivery.event_id,
                headers=delivery.headers,
                body=delivery.body,
                received_at=delivery.received_at,
            )
            .on_conflict_do_nothing(index_elements=["integration_id", "event_id"])
            .returning(t.webhook_deliveries.c.id)
        )
        delivery_id = self._c.execute(statement).scalar_one_or_none()
        return None if delivery_id is None else replace(delivery, id=delivery_id)

    @staticmethod
    def _delivery(row: Row[Any]) -> StoredDelivery:
        return StoredDelivery(
            id=row.id,
            connection_id=row.integration_id,
            event_id=row.event_id,
            body=bytes(row.body),
            headers=dict(row.headers),
            received_at=row.received_at,
            processed_at=row.processed_at,
            outcome=row.outcome,
            attempts=row.attempts,
            last_attempt_at=row.last_attempt_at,
            last_error=row.last_error,
            failed_at=row.failed_at,
        )

    def get(self, delivery_id: int) -> StoredDelivery | None:
        row = self._c.execute(select(t.webhook_deliveries).where(t.webhook_deliveries.c.id == delivery_id)).first()
        return None if row is None else self._delivery(row)

    def mark_processed(self, delivery_id: int, processed_at: datetime, outcome: str) -> bool:
        c = t.webhook_deliveries.c
        changed = self._c.execute(
            update(t.webhook_deliveries)
            .where(c.id == delivery_id, c.processed_at.is_(None))
            .values(processed_at=processed_at, outcome=outcome[:200], failed_at=None)
        ).rowcount
        return bool(changed)

    def record_attempt(self, delivery: StoredDelivery) -> None:
        self._c.execute(
            update(t.webhook_deliveries)
            .where(t.webhook_deliveries.c.id == delivery.id)
            .values(
                attempts=delivery.attempts,
                last_attempt_at=delivery.last_attempt_at,
                last_error=delivery.last_error[:500] if delivery.last_error else None,
                failed_at=delivery.failed_at,
            )
        )

    def unfinished(self, connection_id: int, limit: int) -> Sequence[StoredDelivery]:
        c = t.webhook_deliveries.c
        rows = self._c.execute(
            select(t.webhook_deliveries)
            .where(c.integration_id == connection_id, c.processed_at.is_(None), c.attempts > 0)
            .order_by(c.received_at.desc(), c.id.desc())
            .limit(limit)
        )
        return [self._delivery(row) for row in rows]

    def stalled(self, before: datetime, limit: int) -> Sequence[StoredDelivery]:
        c = t.webhook_deliveries.c
        rows = self._c.execute(
            select(t.webhook_deliveries)
            .where(
                c.processed_at.is_(None),
                c.failed_at.is_(None),
                func.coalesce(c.last_attempt_at, c.received_at) < before,
            )
            .order_by(c.id)
            .limit(limit)
        )
        return [self._delivery(row) for row in rows]

    def mentioning(self, account_id: int, needles: Collection[str], ids: Collection[str]) -> Sequence[int]:
        # Bodies are bytes (PostgreSQL's bytea has no case-insensitive search), so the account's deliveries
        # are read and searched here: a data subject request is rare, and a connection keeps a few thousand.
        d = t.webhook_deliveries.c
        rows = self._c.execute(
            select(d.id, d.body, d.headers, d.outcome)
            .select_from(
                t.webhook_deliveries.join(t.platform_integrations, t.platform_integrations.c.id == d.integration_id)
            )
            .where(t.platform_integrations.c.user_id == account_id)
            .order_by(d.id)
        ).all()
        return [
            row.id
            for row in rows
            if mentions(bytes(row.body), needles, ids)
            or mentions(json.dumps(row.headers).encode(), needles, ())
            or mentions(json.dumps(row.outcome or "").encode(), needles, ())
        ]

    def redact(self, delivery_ids: Collection[int], needles: Collection[str], replacement: str) -> int:
        d = t.webhook_deliveries.c
        rows = self._c.execute(select(d.id, d.body, d.headers, d.outcome).where(d.id.in_(sorted(delivery_ids)))).all()
        for row in rows:
            self._c.execute(
                update(t.webhook_deliveries)
                .where(d.id == row.id)
                .values(
                    body=erase_from_body(bytes(row.body), needles, replacement),
                    headers=json.loads(erase_from_text(json.dumps(row.headers), needles, replacement)),
                    outcome=erase_from_text(row.outcome, needles, replacement) if row.outcome is not None else None,
                )
            )
        return len(rows)
