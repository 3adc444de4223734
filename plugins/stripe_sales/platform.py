"""Stripe as a CourseSignal platform: a creator's own course sales, read with a restricted key, and the
signed webhooks of an endpoint the creator adds in Stripe."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import stripe

from coursesignal import (
    ConnectionCheck,
    CredentialField,
    Credentials,
    CredentialsRejected,
    PlatformAdapter,
    PlatformError,
    PlatformRecord,
    PurchaseRecord,
    SyncProgress,
    WebhookAuth,
    WebhookBatch,
    WebhookDelivery,
    WebhookRejected,
)

from .api import READ_RESOURCES, StripeAccount, stripe_account
from .sales import (
    PLATFORM,
    Sale,
    UnreadableObject,
    is_paid_charge,
    refund_from_charge,
    sale_from_charge,
    sale_from_payment_intent,
    sale_from_session,
)

log = logging.getLogger(__name__)

#: The events CourseSignal reads; the creator selects them on the endpoint. Others are acknowledged.
EVENTS = ("payment_intent.succeeded", "charge.refunded", "checkout.session.completed")
#: Stripe's own default: a signature older than this (from when CourseSignal received it) is refused.
SIGNATURE_TOLERANCE = timedelta(seconds=300)
MAX_BODY_BYTES = 512 * 1024
#: Checkout Sessions are created before they are paid (they stay open up to a day): look that much earlier.
SESSION_LEAD = timedelta(days=1)

KEY_HELP = (
    "In Stripe open Developers > API keys and click “Create restricted key”. Name it CourseSignal and set "
    "Read on Charges, PaymentIntents, Customers, Checkout Sessions and Events (nothing else is needed), then "
    "create it and paste it here: it starts with rk_live_. Optionally, Write on Webhook Endpoints lets "
    "CourseSignal add its webhook endpoint for you; it never writes anything else."
)
SIGNING_HELP = (
    "In Stripe open Developers > Webhooks, click “Add endpoint”, paste the webhook URL CourseSignal shows "
    "for this connection and select the events payment_intent.succeeded, charge.refunded and "
    "checkout.session.completed. Then reveal the endpoint's Signing secret and paste it here "
    "(it starts with whsec_). You can leave this empty to connect first and add it once the URL is shown."
)


SIGNING_MISTAKE = (
    "The webhook signing secret starts with whsec_: copy it from the endpoint in Stripe's Developers > Webhooks."
)
SAFER_KEY = " A restricted key (rk_...) with Read access only is safer: consider making one."


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


class StripeSalesPlatform(PlatformAdapter):
    name: ClassVar[str] = PLATFORM
    display_name: ClassVar[str] = "Stripe"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("api_key", "Restricted API key", help=KEY_HELP, secret=True),
        CredentialField("webhook_secret", "Webhook signing secret", help=SIGNING_HELP, secret=True, required=False),
    )
    webhook_auth: ClassVar[WebhookAuth] = WebhookAuth.SIGNATURE
    webhook_events: ClassVar[tuple[str, ...]] = EVENTS

    def __init__(self, api_url: str | None = None) -> None:
        self._api_url = api_url  # None: Stripe's own host

    def _account(self, credentials: Mapping[str, str]) -> Any:
        return stripe_account((credentials.get("api_key") or "").strip(), self._api_url)

    # ---- connect ---------------------------------------------------------------------------------
    def check_credentials(self, credentials: Credentials) -> ConnectionCheck:
        """The key's shape, then one read of each resource the sync and the webhooks need."""
        key = (credentials.get("api_key") or "").strip()
        secret = (credentials.get("webhook_secret") or "").strip()
        if key.startswith("pk_"):
            return ConnectionCheck(False, "That is a publishable key. " + KEY_HELP)
        if not key.startswith(("rk_", "sk_")):
            return ConnectionCheck(False, "That is not a Stripe API key. " + KEY_HELP)
        if secret and not secret.startswith("whsec_"):
            return ConnectionCheck(False, SIGNING_MISTAKE)
        try:
            with self._account(credentials) as account:
                for resource in READ_RESOURCES:
                    account.peek(resource)
        except PlatformError as problem:
            return ConnectionCheck(False, str(problem))
        return ConnectionCheck(True, "Connected to Stripe." + ("" if key.startswith("rk_") else SAFER_KEY))

    # ---- sync ------------------------------------------------------------------------------------
    def fetch_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        """Charges since `since` (`created[gte]`, every page), completed by their payment intents and the
        Checkout Sessions that made them; a refunded charge also yields its refund."""
        start = int(since.timestamp())
        pages = found = 0
        with self._account(credentials) as account:
            sessions: dict[str, dict[str, Any]] = {}
            session_query = {"created": {"gte": int((since - SESSION_LEAD).timestamp())}, "expand": ["data.line_items"]}
            for page in account.pages("checkout_sessions", session_query):
                pages += 1
                for session in page:
                    if isinstance(session.get("payment_intent"), str):
                        sessions[session["payment_intent"]] = session
                progress(found, None, pages=pages)
            intents: dict[str, dict[str, Any]] = {}
            for page in account.pages("payment_intents", {"created": {"gte": start}}):
                pages += 1
                intents.update((intent["id"], intent) for intent in page)
                progress(found, None, pages=pages)
            for page in account.pages("charges", {"created": {"gte": start}}):
                pages += 1
                for charge in page:
                    if not is_paid_charge(charge):
                        continue
                    records = self._readable(account, charge, intents, sessions)
                    found += sum(isinstance(r, PurchaseRecord) for r in records)
                    yield from records
                progress(found, None, pages=pages)
        progress(found, found, pages=pages)

    def _readable(
        self,
        account: StripeAccount,
        charge: dict[str, Any],
        intents: Mapping[str, dict[str, Any]],
        sessions: Mapping[str, dict[str, Any]],
    ) -> list[PlatformRecord]:
        try:
            sales = [sale_from_charge(charge)]
            intent = intents.get(charge.get("payment_intent") or "")
            if intent is not None:
                sales.insert(0, sale_from_payment_intent(intent))
            session = sessions.get(charge.get("payment_intent") or "")
            session_sale = sale_from_session(session) if session is not None else None
            if session_sale is not None:
                sales.insert(0, session_sale)
            purchase = self._complete(account, _merged(sales))
            refund = refund_from_charge(charge, datetime.now(UTC))
        except UnreadableObject as error:
            log.warning("Stripe charge %s skipped: %s", charge.get("id"), error)
            return []
        return [purchase] if refund is None else [purchase, refund]

    @staticmethod
    def _complete(account: StripeAccount, sale: Sale) -> PurchaseRecord:
        """The purchase, with the customer's email when nothing else named the buyer."""
        email = account.customer_email(sale.customer_id) if sale.email is None and sale.customer_id else None
        return sale.record(email=email)

    # ---- webhooks --------------------------------------------------------------------------------
    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        """Verify the Stripe-Signature against the raw body with the stripe library (any of several v1
        signatures, as during a secret roll; 300 s from when CourseSignal received it), then read the
        event. No API call: a webhook is answered at once, and `confirm_records` completes it later."""
        secret = (credentials.get("webhook_secret") or "").strip()
        if not secret:
            raise WebhookRejected(
                "No webhook signing secret is set for this Stripe connection: paste the endpoint's whsec_ secret."
            )
        if len(delivery.body) > MAX_BODY_BYTES:
            raise WebhookRejected("The body is larger than Stripe ever sends.")
        header = _header(delivery.headers, "Stripe-Signature")
        received = delivery.received_at or datetime.now(UTC)
        waited = max(timedelta(0), datetime.now(UTC) - received)
        try:
            stripe.WebhookSignature.verify_header(
                delivery.body, header, secret, int((SIGNATURE_TOLERANCE + waited).total_seconds())
            )
        except stripe.SignatureVerificationError as error:
            raise WebhookRejected(
                f"The Stripe-Signature does not match this connection's signing secret ({error})."
            ) from None
        except UnicodeDecodeError:
            raise WebhookRejected("The body is not UTF-8 text.") from None
        event = _event(delivery.body)
        kind, obj = event["type"], event["data"]["object"]
        try:
            records = _records(kind, obj, datetime.fromtimestamp(event["created"], UTC))
        except UnreadableObject as error:
            raise WebhookRejected(f"{kind}: {error}.") from None
        return WebhookBatch(event_id=event["id"], records=tuple(records))

    def register_webhooks(self, credentials: Credentials, target_url: str) -> tuple[str, ...]:
        """Add the endpoint in Stripe when the key may (Write on Webhook Endpoints), keeping the signing
        secret Stripe shows once; otherwise register nothing, and the creator adds it by hand."""
        try:
            with self._account(credentials) as account:
                endpoint = account.create_webhook_endpoint(target_url, EVENTS)
        except PlatformError as error:
            log.info("Stripe endpoint not created (the creator adds it by hand): %s", error)
            return ()
        secret = endpoint.get("secret")
        if not isinstance(secret, str) or not secret.startswith("whsec_"):
            return ()
        credentials["webhook_secret"] = secret
        return (str(endpoint["id"]),)

    def remove_webhooks(self, credentials: Credentials, webhook_ids: Sequence[str]) -> None:
        with self._account(credentials) as account:
            for endpoint_id in webhook_ids:
                account.delete_webhook_endpoint(endpoint_id)

    def confirm_records(self, credentials: Credentials, records: Sequence[PlatformRecord]) -> Sequence[PlatformRecord]:
        """Stripe signed the delivery, so its amounts count as they are; what the event lacked (an email
        kept only on the Customer, a course named only in the Checkout line items) is looked up. A sale
        still without an email is kept all the same: it is stored, and shown as unmatched."""
        wanting = [r for r in records if isinstance(r, PurchaseRecord) and (r.email is None or r.course_name is None)]
        if not wanting:
            return records
        completed: dict[str, PurchaseRecord] = {}
        with self._account(credentials) as account:
            for record in wanting:
                completed[record.platform_purchase_id] = self._looked_up(account, record)
        return [completed.get(r.platform_purchase_id, r) if isinstance(r, PurchaseRecord) else r for r in records]

    def _looked_up(self, account: StripeAccount, record: PurchaseRecord) -> PurchaseRecord:
        key = record.platform_purchase_id
        try:
            resource = "payment_intents" if key.startswith("pi_") else "charges"
            found = account.retrieve(resource, key)
            sales = [sale_from_payment_intent(found) if resource == "payment_intents" else sale_from_charge(found)]
            if key.startswith("pi_") and record.course_name is None:
                session = account.session_of(key)
                session_sale = sale_from_session(session) if session else None
                if session_sale is not None:
                    sales.insert(0, session_sale)
            looked_up = self._complete(account, _merged(sales))
        except CredentialsRejected:
            raise
        except (UnreadableObject, PlatformError) as error:
            log.info("Stripe %s: kept as delivered, the lookup failed: %s", key, error)
            return record
        return PurchaseRecord(
            platform=record.platform,
            platform_purchase_id=key,
            amount=record.amount,
            purchased_at=record.purchased_at,
            email=record.email or looked_up.email,
            course_name=record.course_name or looked_up.course_name,
            visitor_key=record.visitor_key or looked_up.visitor_key,
            recipient_email=record.recipient_email or looked_up.recipient_email,
        )


def _merged(sales: Sequence[Sale]) -> Sale:
    """One sale from what several objects say of it: the first says the amount and time, and each field
    is the first one given (sessions first, then the payment intent, then the charge)."""
    head = sales[0]

    def pick(name: str) -> Any:
        return next((getattr(s, name) for s in sales if getattr(s, name)), None)

    return Sale(
        key=head.key,
        amount=head.amount,
        purchased_at=head.purchased_at,
        email=pick("email"),
        course_name=pick("course_name"),
        visitor_key=pick("visitor_key"),
        customer_id=pick("customer_id"),
        session_id=pick("session_id"),
        recipient_email=pick("recipient_email"),
    )


def _event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookRejected("The body is not JSON.") from None
    if not isinstance(event, dict) or event.get("object") != "event":
        raise WebhookRejected("The body is not a Stripe event.")
    if not isinstance(event.get("id"), str) or not event["id"].startswith("evt_") or len(event["id"]) > 255:
        raise WebhookRejected("The event has no id.")
    if not isinstance(event.get("type"), str) or not event["type"]:
        raise WebhookRejected("The event has no type.")
    if isinstance(event.get("created"), bool) or not isinstance(event.get("created"), int):
        raise WebhookRejected("The event has no creation time.")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookRejected("The event has no data.object.")
    return event


def _records(kind: str, obj: Mapping[str, Any], happened_at: datetime) -> list[PlatformRecord]:
    if kind == "payment_intent.succeeded":
        return [sale_from_payment_intent(obj).record()]
    if kind == "checkout.session.completed":
        sale = sale_from_session(obj)
        return [] if sale is None else [sale.record()]
    if kind == "charge.refunded":
        if not is_paid_charge(obj):
            return []
        refund = refund_from_charge(obj, happened_at)
        purchase = sale_from_charge(obj).record()
        return [purchase] if refund is None else [purchase, refund]
    return []
