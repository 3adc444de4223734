"""The BillingGateway on Stripe: Checkout in subscription mode, the Customer Portal, signed webhooks.

A StripeClient is made per call with our own key: nothing global is ever set on the `stripe` module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import stripe

from core.domain.money import Money, normalize_currency
from core.domain.subscriptions import (
    NEVER_CHARGES_AGAIN,
    BillingEvent,
    BillingEventType,
    CheckoutCompleted,
    InvoiceSnapshot,
    SubscriptionSnapshot,
)
from core.ports.billing import BillingUnavailable, CheckoutRequest, ForgedBillingEvent, UnreadableBillingEvent

log = logging.getLogger(__name__)

# Stripe's default: a signature older than five minutes is refused, so a captured delivery cannot be replayed.
SIGNATURE_TOLERANCE_SECONDS = 300
ACCOUNT_METADATA_KEY = "coursesignal_account_id"
_NOT_CONFIGURED = "Billing is not set up on this server yet: the operator sets {names} (see docs/billing.md)."
_UNREACHABLE = "Stripe did not answer as expected. Nothing was charged; please try again in a minute."


class StripeBilling:
    def __init__(
        self,
        secret_key: str | None,
        webhook_secret: str | None,
        price_id: str | None,
        api_base: str | None = None,
        timeout_seconds: float = 20,
    ) -> None:
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self._price_id = price_id
        self._api_base = api_base
        self._timeout = timeout_seconds

    @contextmanager
    def _client(self) -> Iterator[stripe.StripeClient]:
        """A client for one call; its HTTP session is closed when the call is done."""
        if not self._secret_key:
            raise BillingUnavailable(_NOT_CONFIGURED.format(names="STRIPE_SECRET_KEY"))
        http_client = stripe.RequestsClient(timeout=self._timeout)
        try:
            yield stripe.StripeClient(
                self._secret_key,
                base_addresses={"api": self._api_base} if self._api_base else None,
                max_network_retries=2,  # with idempotency keys, which stripe-python adds to retried POSTs
                http_client=http_client,
            )
        finally:
            http_client.close()

    def _failed(self, action: str, error: stripe.StripeError) -> BillingUnavailable:
        log.error("Stripe refused to %s: %s (request %s)", action, error.user_message or error, error.request_id)
        return BillingUnavailable(_UNREACHABLE)

    def create_customer(self, account_id: int, email: str) -> str:
        try:
            with self._client() as client:
                customer = client.v1.customers.create(
                    params={"email": email, "metadata": {ACCOUNT_METADATA_KEY: str(account_id)}}
                )
        except stripe.StripeError as error:
            raise self._failed("create a customer", error) from None
        return str(customer.id)

    def create_checkout_session(self, request: CheckoutRequest) -> str:
        if not self._price_id:
            raise BillingUnavailable(_NOT_CONFIGURED.format(names="STRIPE_PRICE_ID"))
        subscription_data: dict[str, Any] = {"metadata": {ACCOUNT_METADATA_KEY: str(request.account_id)}}
        if request.trial_end is not None:
            subscription_data["trial_end"] = int(request.trial_end.timestamp())
            # The card is collected now; if it is removed before the trial ends, the subscription ends too.
            subscription_data["trial_settings"] = {"end_behavior": {"missing_payment_method": "cancel"}}
        params: dict[str, Any] = {
            "mode": "subscription",
            "line_items": [{"price": self._price_id, "quantity": 1}],
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "client_reference_id": str(request.account_id),
            "subscription_data": subscription_data,
        }
        if request.customer_id is not None:
            params["customer"] = request.customer_id
        else:
            params["customer_email"] = request.email
        try:
            with self._client() as client:
                session = client.v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as error:
            raise self._failed("start Checkout", error) from None
        if not session.url:
            raise BillingUnavailable(_UNREACHABLE)
        return str(session.url)

    def create_portal_session(self, customer_id: str, return_url: str) -> str:
        try:
            with self._client() as client:
                session = client.v1.billing_portal.sessions.create(
                    params={"customer": customer_id, "return_url": return_url}
                )
        except stripe.StripeError as error:
            raise self._failed("open the Customer Portal", error) from None
        return str(session.url)

    def fetch_subscription(self, subscription_id: str) -> SubscriptionSnapshot:
        try:
            with self._client() as client:
                subscription = client.v1.subscriptions.retrieve(subscription_id)
        except stripe.StripeError as error:
            raise self._failed(f"show subscription {subscription_id}", error) from None
        try:
            return subscription_snapshot(subscription.to_dict())
        except (KeyError, TypeError, ValueError) as error:
            log.error("Stripe subscription %s could not be read: %r", subscription_id, error)
            raise BillingUnavailable(_UNREACHABLE) from None

    def cancel_subscription(self, subscription_id: str) -> None:
        try:
            with self._client() as client:
                client.v1.subscriptions.cancel(subscription_id)
        except stripe.InvalidRequestError as error:
            if error.code == "resource_missing":
                return  # nothing left to charge
            raise self._failed(f"cancel subscription {subscription_id}", error) from None
        except stripe.StripeError as error:
            raise self._failed(f"cancel subscription {subscription_id}", error) from None

    def customer_subscriptions(self, customer_id: str) -> list[SubscriptionSnapshot]:
        try:
            with self._client() as client:
                # Without `status`, Stripe lists every subscription that is not canceled.
                found = client.v1.subscriptions.list(params={"customer": customer_id, "limit": 100})
                snapshots = [subscription_snapshot(s.to_dict()) for s in found.auto_paging_iter()]
        except stripe.StripeError as error:
            raise self._failed(f"list the subscriptions of customer {customer_id}", error) from None
        except (KeyError, TypeError, ValueError) as error:
            log.error("The subscriptions of customer %s could not be read: %r", customer_id, error)
            raise BillingUnavailable(_UNREACHABLE) from None
        live = [s for s in snapshots if s.status not in NEVER_CHARGES_AGAIN]
        return sorted(live, key=lambda s: (s.created or datetime.min.replace(tzinfo=UTC), s.subscription_id))

    def open_checkout_url(self, customer_id: str) -> str | None:
        try:
            with self._client() as client:
                found = client.v1.checkout.sessions.list(params={"customer": customer_id, "status": "open", "limit": 1})
        except stripe.StripeError as error:
            raise self._failed(f"list the open Checkout Sessions of customer {customer_id}", error) from None
        for session in found.data:
            if session.url:
                return str(session.url)
        return None

    def expire_open_checkouts(self, customer_id: str) -> int:
        expired = 0
        try:
            with self._client() as client:
                found = client.v1.checkout.sessions.list(
                    params={"customer": customer_id, "status": "open", "limit": 100}
                )
                for session in found.auto_paging_iter():
                    client.v1.checkout.sessions.expire(session.id)
                    expired += 1
        except stripe.StripeError as error:
            raise self._failed(f"expire the open Checkout Sessions of customer {customer_id}", error) from None
        return expired

    def refund_subscription_payments(self, subscription_id: str) -> Money | None:
        refunded: Money | None = None
        try:
            with self._client() as client:
                invoices = client.v1.invoices.list(
                    params={"subscription": subscription_id, "status": "paid", "limit": 100}
                )
                for invoice in invoices.auto_paging_iter():
                    if not invoice.amount_paid:
                        continue
                    # Since API version 2025-03-31 an invoice's payments are InvoicePayment objects.
                    payments = client.v1.invoice_payments.list(params={"invoice": invoice.id, "status": "paid"})
                    for payment in payments.auto_paging_iter():
                        amount = self._refund_payment(client, payment.to_dict(), subscription_id)
                        if amount is not None:
                            refunded = amount if refunded is None else refunded + amount
        except stripe.StripeError as error:
            raise self._failed(f"refund subscription {subscription_id}", error) from None
        return refunded

    def _refund_payment(
        self, client: stripe.StripeClient, payment: Mapping[str, Any], subscription_id: str
    ) -> Money | None:
        target = payment.get("payment") or {}
        params: dict[str, Any] = {
            "reason": "duplicate",
            "metadata": {"coursesignal_duplicate_subscription": subscription_id},
        }
        if target.get("payment_intent"):
            params["payment_intent"] = _required_id(target["payment_intent"])
        elif target.get("charge"):
            params["charge"] = _required_id(target["charge"])
        else:
            return None
        try:
            # One refund per payment, even when this runs again (a redelivered event): Stripe answers a repeated
            # idempotency key with the first refund.
            refund = client.v1.refunds.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"coursesignal-duplicate-refund-{payment['id']}"},
            )
        except stripe.InvalidRequestError as error:
            if error.code == "charge_already_refunded":
                return None
            raise
        return Money(int(refund.amount), normalize_currency(refund.currency))

    def read_event(self, payload: bytes, signature_header: str | None) -> BillingEvent:
        if not self._webhook_secret:
            raise BillingUnavailable(_NOT_CONFIGURED.format(names="STRIPE_WEBHOOK_SECRET"))
        try:
            body = payload.decode("utf-8")
        except UnicodeDecodeError:
            # Stripe signs the UTF-8 text of its JSON: a body that is not UTF-8 was never sent by Stripe.
            raise UnreadableBillingEvent("the body is not UTF-8 text") from None
        try:
            stripe.WebhookSignature.verify_header(
                body, signature_header, self._webhook_secret, SIGNATURE_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as error:
            raise ForgedBillingEvent(f"signature check failed: {error}") from None
        try:
            return billing_event(json.loads(body))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise UnreadableBillingEvent(f"a signed event that cannot be read: {error!r}") from None


# --- reading Stripe's objects (plain JSON, whatever the SDK's object classes do) -----------------------


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(int(value), UTC)


def _id(value: Any) -> str | None:
    """An id, or the id of an expanded object."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return str(value["id"])
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a Stripe id: {value!r}")
    return value


def _required_id(value: Any) -> str:
    found = _id(value)
    if found is None:
        raise ValueError("missing Stripe id")
    return found


def _account_id(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


def subscription_snapshot(obj: Mapping[str, Any]) -> SubscriptionSnapshot:
    items = (obj.get("items") or {}).get("data") or []
    # Since API version 2025-03-31 the billing period lives on the subscription's items.
    period_end = items[0].get("current_period_end") if items else None
    if period_end is None:
        period_end = obj.get("current_period_end")
    status = obj["status"]
    if not isinstance(status, str):
        raise ValueError(f"not a subscription status: {status!r}")
    return SubscriptionSnapshot(
        subscription_id=_required_id(obj["id"]),
        customer_id=_required_id(obj["customer"]),
        status=status,
        cancel_at_period_end=bool(obj.get("cancel_at_period_end", False)),
        current_period_end=_time(period_end),
        trial_end=_time(obj.get("trial_end")),
        account_id=_account_id((obj.get("metadata") or {}).get(ACCOUNT_METADATA_KEY)),
        created=_time(obj.get("created")),
        ended_by=(obj.get("cancellation_details") or {}).get("reason"),
    )


def invoice_snapshot(obj: Mapping[str, Any]) -> InvoiceSnapshot:
    # Since API version 2025-03-31 the subscription is under parent.subscription_details.
    details = (obj.get("parent") or {}).get("subscription_details") or {}
    subscription = details.get("subscription") or obj.get("subscription")
    amount = obj.get("amount_due")
    currency = obj.get("currency")
    return InvoiceSnapshot(
        invoice_id=_required_id(obj["id"]),
        customer_id=_required_id(obj["customer"]),
        subscription_id=_id(subscription),
        attempt_count=int(obj.get("attempt_count") or 0),
        next_payment_attempt=_time(obj.get("next_payment_attempt")),
        amount_due=Money(int(amount), normalize_currency(currency)) if amount is not None and currency else None,
        hosted_invoice_url=obj.get("hosted_invoice_url") if isinstance(obj.get("hosted_invoice_url"), str) else None,
    )


def billing_event(envelope: Mapping[str, Any]) -> BillingEvent:
    if envelope.get("object") != "event":
        raise ValueError("not a Stripe event")
    event_type = str(envelope["type"])
    created = _time(envelope["created"])
    assert created is not None
    obj = envelope["data"]["object"]
    event = BillingEvent(event_id=_required_id(envelope["id"]), type=event_type, created=created)
    if event_type == BillingEventType.CHECKOUT_COMPLETED and obj.get("mode") == "subscription":
        checkout = CheckoutCompleted(
            session_id=_required_id(obj["id"]),
            customer_id=_id(obj.get("customer")),
            subscription_id=_id(obj.get("subscription")),
            account_id=_account_id(obj.get("client_reference_id")),
        )
        return BillingEvent(event.event_id, event_type, created, checkout=checkout)
    if event_type in (
        BillingEventType.SUBSCRIPTION_CREATED,
        BillingEventType.SUBSCRIPTION_UPDATED,
        BillingEventType.SUBSCRIPTION_DELETED,
        BillingEventType.SUBSCRIPTION_TRIAL_WILL_END,
    ):
        return BillingEvent(event.event_id, event_type, created, subscription=subscription_snapshot(obj))
    if event_type in (
        BillingEventType.INVOICE_PAID,
        BillingEventType.INVOICE_PAYMENT_FAILED,
        BillingEventType.INVOICE_PAYMENT_ACTION_REQUIRED,
    ):
        return BillingEvent(event.event_id, event_type, created, invoice=invoice_snapshot(obj))
    return event
