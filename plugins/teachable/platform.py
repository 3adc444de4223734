"""Teachable as a CourseSignal platform: API-key connect, a 30-day sync of transactions, and the
dashboard-registered webhooks, every amount confirmed through the API."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import requests

from coursesignal import (
    ConnectionCheck,
    CredentialField,
    Credentials,
    Money,
    PlatformAdapter,
    PlatformError,
    PlatformRecord,
    PurchaseRecord,
    RefundRecord,
    RetryingHttp,
    SyncProgress,
    WebhookAuth,
    WebhookBatch,
    WebhookDelivery,
)

from .client import DEFAULT_API_URL, CredentialsRefused, TeachableClient
from .deliveries import (
    SALE_CREATED,
    TRANSACTION_CREATED,
    TRANSACTION_REFUNDED,
    TeachableEvent,
    parse_delivery,
)
from .schemas import TeachableTransaction

log = logging.getLogger(__name__)

PLATFORM = "teachable"
#: Events the creator ticks in Settings > Webhooks; Sale.created is optional (enrolments, free ones too).
REQUIRED_EVENTS = (TRANSACTION_CREATED, TRANSACTION_REFUNDED)
RECOMMENDED_EVENTS = (*REQUIRED_EVENTS, SALE_CREATED)
#: How far around a webhook's time to look for its transaction when the body names no buyer.
SEARCH_MARGIN = timedelta(days=2)
#: Teachable retries a failed delivery for a while, not for months: an older time in a body is not trusted.
MAX_EVENT_AGE = timedelta(days=30)

KEY_HELP = (
    "In Teachable, open Settings > API and click “Create API Key” (only the school owner can). "
    "Copy the key here: Teachable shows it once."
)


def records_for(
    transaction: TeachableTransaction,
    email: str | None,
    course_name: str | None,
    recipient_email: str | None = None,
) -> list[PlatformRecord]:
    """The purchase a transaction is, and its refund when money went back. `recipient_email`: the
    student's, when someone else (the transaction's user) paid for them.

    Teachable keeps one running `amount_refunded` per transaction, so its refund is one record with a
    fixed id carrying that running total: when a second partial refund raises it, the same refund id
    comes again with a larger amount, and CourseSignal raises the stored refund to it (never adds it twice).
    """
    purchase = PurchaseRecord(
        platform=PLATFORM,
        platform_purchase_id=str(transaction.id),
        amount=Money(transaction.price, transaction.currency),
        purchased_at=transaction.purchased_at,
        email=email,
        course_name=course_name,
        recipient_email=recipient_email if recipient_email != email else None,
    )
    records: list[PlatformRecord] = [purchase]
    if transaction.amount_refunded > 0:
        records.append(
            RefundRecord(
                platform=PLATFORM,
                platform_purchase_id=str(transaction.id),
                platform_refund_id=f"{transaction.id}:refund",
                amount=Money(transaction.amount_refunded, transaction.currency),
                refunded_at=transaction.refunded_at or transaction.purchased_at,
            )
        )
    return records


class TeachablePlatform(PlatformAdapter):
    name: ClassVar[str] = PLATFORM
    display_name: ClassVar[str] = "Teachable"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("api_key", "API key", help=KEY_HELP, secret=True),
    )
    webhook_auth: ClassVar[WebhookAuth] = WebhookAuth.URL_TOKEN

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        http: RetryingHttp | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._api_url = api_url
        self._http = http or RetryingHttp(self.display_name)
        self._clock = clock or (lambda: datetime.now(UTC))

    def _client(self, credentials: Mapping[str, str], session: requests.Session) -> TeachableClient:
        key = (credentials.get("api_key") or "").strip()
        if not key:
            raise CredentialsRefused("Paste your Teachable API key (Teachable: Settings > API).")
        # The API host comes from the operator (COURSESIGNAL_TEACHABLE_API_URL), never from what a creator
        # pastes: a connection must not be able to point CourseSignal's server at another host.
        return TeachableClient(self._api_url, key, self._http, session)

    # ---- connect ---------------------------------------------------------------------------------
    def check_credentials(self, credentials: Mapping[str, str]) -> ConnectionCheck:
        """One transaction read: proves the key, the plan's API access and the permission the sync needs."""
        try:
            with requests.Session() as session:
                self._client(credentials, session).transaction_page(1, per=1)
        except PlatformError as problem:
            return ConnectionCheck(ok=False, message=str(problem))
        return ConnectionCheck(ok=True, message="Connected to Teachable.")

    def check_webhooks(self, credentials: Mapping[str, str], webhook_url: str) -> ConnectionCheck:
        """Whether the creator added our webhook URL in Teachable for the events that carry money.

        Teachable registers webhooks only in its dashboard; `GET /v1/webhooks` lists them (deleted ones
        included, so a URL that is listed can still be missing: the message says what to check)."""
        try:
            with requests.Session() as session:
                hooks = self._client(credentials, session).webhooks()
        except PlatformError as problem:
            return ConnectionCheck(ok=False, message=str(problem))
        target = webhook_url.rstrip("/")
        ours = [h for h in hooks if h.url.rstrip("/") == target]
        failed = sorted({h.event_trigger for h in ours if h.workflow_state == "failed"})
        missing = [e for e in REQUIRED_EVENTS if e not in {h.event_trigger for h in ours}]
        if not ours:
            return ConnectionCheck(
                ok=False,
                message="Teachable has no webhook with this URL yet. In Teachable open Settings > Webhooks > "
                f"Add Webhook, paste the URL and tick {', '.join(RECOMMENDED_EVENTS)}.",
            )
        if missing:
            return ConnectionCheck(
                ok=False, message=f"The webhook is there but not for {', '.join(missing)}: add it for these events too."
            )
        if failed:
            return ConnectionCheck(
                ok=False,
                message=f"Teachable could not verify the webhook for {', '.join(failed)}. Check the URL is "
                "exactly the one shown here, then delete the webhook and add it again in Settings > Webhooks.",
            )
        return ConnectionCheck(ok=True, message="Teachable's webhooks point at CourseSignal.")

    # ---- sync ------------------------------------------------------------------------------------
    def fetch_purchases(
        self, credentials: Mapping[str, str], since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        """Transactions since `since`, newest first, each with its buyer's email and course."""
        with requests.Session() as session:
            client = self._client(credentials, session)
            done = 0
            for page in client.transaction_pages(**client.since_filters(since)):
                for transaction in page.transactions:
                    # Kept client-side too: if Teachable ignored both spellings of the date filter, the
                    # answer is still right, only slower.
                    if transaction.purchased_at < since:
                        continue
                    yield from self._records(client, transaction)
                    done += 1
                progress(done, page.total)
            progress(done, done)

    @staticmethod
    def _records(
        client: TeachableClient, transaction: TeachableTransaction, student_id: int | None = None
    ) -> list[PlatformRecord]:
        """The transaction's records with its buyer's email; with the student a sale names, when that is
        someone else than the buyer (a gift), the student's email as the recipient's."""
        user = client.user(transaction.user_id)
        student = client.user(student_id) if student_id is not None and student_id != transaction.user_id else None
        return records_for(
            transaction,
            user.email if user else None,
            client.course_name_for_plan(transaction.pricing_plan_id),
            recipient_email=student.email if student else None,
        )

    # ---- webhooks --------------------------------------------------------------------------------
    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        """Parse the delivery into the events that carry money, with no API call (this runs while Teachable
        waits for the answer). Teachable signs nothing, so the body's amounts and emails are never used:
        each event is kept as a reference that `confirm_batch` reads back through the API, in a job.
        Raises WebhookRejected for an unreadable body."""
        events = parse_delivery(delivery.body)
        event_id = ",".join(str(event.id) for event in events)
        references = tuple(event.reference() for event in events if event.carries_money)
        return WebhookBatch(event_id=event_id, references=references)

    def confirm_batch(self, credentials: Credentials, batch: WebhookBatch) -> Sequence[PlatformRecord]:
        """Each event's transaction as the API has it, with its buyer's email and course. An event whose
        transaction the API does not show (yet: new ones take up to two minutes, or a free enrolment)
        yields no record; a later sync brings it. Raises PlatformError when Teachable cannot be read (the
        job is then worth retrying)."""
        events = [TeachableEvent.from_reference(reference) for reference in batch.references]
        records: list[PlatformRecord] = []
        if not events:
            return records
        with requests.Session() as session:
            client = self._client(credentials, session)
            for event in events:
                transaction = self._find_transaction(client, event)
                if transaction is None:
                    log.info("Teachable event %s (%s): the API shows no transaction", event.id, event.type)
                    continue
                records.extend(self._records(client, transaction, event.student_id))
        return records

    def _find_transaction(self, client: TeachableClient, event: TeachableEvent) -> TeachableTransaction | None:
        if event.type == SALE_CREATED:

            def matches(t: TeachableTransaction) -> bool:
                return t.sale_id == event.sale_id or (event.transaction_id is not None and t.id == event.transaction_id)
        else:

            def matches(t: TeachableTransaction) -> bool:
                return t.id == event.transaction_id

        filters: dict[str, object] = {}
        if event.user_id is not None:
            filters["user_id"] = event.user_id
        if event.pricing_plan_id is not None:
            filters["pricing_plan_id"] = event.pricing_plan_id
        if event.user_id is None:
            # No buyer named (a gift's Sale.created names the student): search around the event's time,
            # unless the body's time is implausible (it is unsigned), then around now.
            now = self._clock()
            around = event.happened_at
            if around is None or not now - MAX_EVENT_AGE <= around <= now + SEARCH_MARGIN:
                around = now
            filters.update(client.since_filters(around - SEARCH_MARGIN))
        return client.find_transaction(matches=matches, **filters)
