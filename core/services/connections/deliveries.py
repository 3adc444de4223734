"""Receiving webhook deliveries: authenticate and store each raw delivery once, process it in a job (confirmed
through the platform's API, retried, failed in plain words), replay it, and sweep up deliveries whose job was lost.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from core.domain.connections import ConnectionStatus, DeliveryState, StoredDelivery
from core.domain.purchases import RefundRecord
from core.domain.storable import body_problem
from core.ports.jobs import ATTEMPTS, RETRY_DELAYS
from core.ports.platforms import (
    CredentialsRejected,
    InvalidRecord,
    PlatformError,
    WebhookAuth,
    WebhookDelivery,
    WebhookRejected,
)
from core.services.connections.base import DELIVERY_TASK, REPLAY_TASK, ConnectionsBase
from core.services.purchases import IngestSummary, store_records

log = logging.getLogger(__name__)


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


class UnknownDelivery(LookupError):
    """No such delivery on this account's connection (answered 404 either way)."""


class DeliveryNotReady(Exception):
    """A delivery that cannot be counted yet (a refund before its purchase): worth another attempt."""


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


class ReceivingDeliveries(ConnectionsBase):
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
