"""Reading a platform on a schedule: the first sync (resumable, page by page, with progress), the periodic
poll of every live connection, and what the creator is told while reading keeps failing.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from core.domain.connections import BACKFILL_WINDOW, STALLED_SYNC, Connection, ConnectionStatus, SyncState
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.ports.mailer import Mail, MailError
from core.ports.platforms import CredentialsRejected, PlatformError, PlatformRecord, PlatformUnavailable
from core.services.connections.base import POLL_TASK, SYNC_TASK, ConnectionsBase
from core.services.purchases import SYNC_BATCH_SIZE, store_records

log = logging.getLogger(__name__)


class _SyncSuperseded(Exception):
    """The running sync's checkpoint was refused: the connection was disconnected or reconnected."""


def _ignore_progress(done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
    return None


class Syncing(ConnectionsBase):
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
