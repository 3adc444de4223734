"""A local fake of the Stripe API endpoints CourseSignal calls, checking the parameters it is sent.

It keeps its objects in memory, answers over real HTTP on a free port, and can act out what happens on
Stripe's side (a creator paying in Checkout, a renewal failing and being retried, a cancellation in the
Customer Portal), producing the events Stripe would send, signed with the endpoint secret.
"""

from __future__ import annotations

import html
import json
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from tests.fakes.stripe.webhooks import API_VERSION, deliver, sign
from tests.fakes.stripe.wire import (
    StripeApiError,
    as_bool,
    as_int,
    decode_params,
    invalid,
    list_page,
    missing,
    refuse_unknown,
)

DAY = 86_400
MONTH = 30 * DAY
_MISSING_PAYMENT_METHOD = ("cancel", "create_invoice", "pause")


#: The restricted-key permission each API path needs (Stripe's Dashboard names, shortened).
PERMISSIONS = {
    "/v1/charges": "charge",
    "/v1/payment_intents": "payment_intent",
    "/v1/customers": "customer",
    "/v1/checkout/sessions": "checkout_session",
    "/v1/events": "event",
    "/v1/subscriptions": "subscription",
    "/v1/billing_portal/sessions": "billing_portal_session",
    "/v1/invoices": "invoice",
    "/v1/invoice_payments": "invoice",
    "/v1/refunds": "refund",
    "/v1/webhook_endpoints": "webhook_endpoint",
}
#: What the Stripe sales plugin asks a creator's restricted key to read.
SALES_PERMISSIONS = ("charge", "payment_intent", "customer", "checkout_session", "event")


def _permission_for(path: str) -> str | None:
    for prefix, permission in PERMISSIONS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return permission
    return None


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    authorized: bool


class FakeStripe:
    """`with FakeStripe() as stripe:` serves the fake at `stripe.base_url` until the block ends."""

    def __init__(
        self,
        secret_key: str = "sk_test_coursesignal",
        webhook_secret: str = "whsec_coursesignal",
        *,
        retries: int = 3,
        retry_days: tuple[int, ...] = (3, 5, 7),
        clock: Callable[[], float] = time.time,
        port: int = 0,
    ) -> None:
        self.port = port  # 0: any free port
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        # The Dashboard's retry schedule: how many times a failed renewal is retried, and when.
        self.retries = retries
        self.retry_days = retry_days
        self.clock = clock
        self.webhook_url: str | None = None  # where the hosted Checkout and Portal pages deliver their events
        self.requests: list[RecordedRequest] = []
        self.events: list[dict[str, Any]] = []
        self.prices: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.invoice_payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.checkout_sessions: dict[str, dict[str, Any]] = {}
        self.portal_sessions: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        # Restricted keys (rk_test_...) a creator made, each with the resources it may read.
        self.restricted_keys: dict[str, frozenset[str]] = {}
        self.webhook_endpoints: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- running -----------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        fake = self

        class Handler(_Handler):
            stripe = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutting the fake down at the end of each test takes a moment, not half a second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-stripe", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use FakeStripe as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def now(self) -> int:
        return int(self.clock())

    def calls(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # --- seeding -------------------------------------------------------------------------------------

    def add_price(
        self, price_id: str | None = None, *, unit_amount: int = 9900, currency: str = "usd", interval: str = "month"
    ) -> dict[str, Any]:
        price = {
            "id": price_id or new_id("price"),
            "object": "price",
            "active": True,
            "currency": currency,
            "unit_amount": unit_amount,
            "type": "recurring",
            "recurring": {"interval": interval, "interval_count": 1},
            "created": self.now(),
        }
        self.prices[price["id"]] = price
        return price

    def add_customer(
        self, email: str | None = None, *, metadata: dict[str, str] | None = None, created: int | None = None
    ) -> dict[str, Any]:
        customer = {
            "id": new_id("cus"),
            "object": "customer",
            "email": email,
            "name": None,
            "metadata": dict(metadata or {}),
            "created": self.now() if created is None else created,
            "livemode": False,
        }
        self.customers[customer["id"]] = customer
        return customer

    def add_charge(
        self,
        amount: int,
        *,
        currency: str = "usd",
        created: int | None = None,
        email: str | None = None,
        customer: str | None = None,
        amount_refunded: int = 0,
        payment_intent: str | None = None,
        metadata: dict[str, str] | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        charge = {
            "id": new_id("ch"),
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": amount_refunded,
            "refunded": amount_refunded >= amount,
            "currency": currency,
            "customer": customer,
            "billing_details": {"email": email, "name": None},
            "receipt_email": email,
            "payment_intent": payment_intent,
            "metadata": dict(metadata or {}),
            "description": description,
            "created": self.now() if created is None else created,
            "status": "succeeded",
            "paid": True,
            "captured": True,
            "livemode": False,
        }
        self.charges[charge["id"]] = charge
        return charge

    def add_payment_intent(
        self,
        amount: int,
        *,
        currency: str = "usd",
        created: int | None = None,
        email: str | None = None,
        customer: str | None = None,
        status: str = "succeeded",
        metadata: dict[str, str] | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        intent_id = new_id("pi")
        when = self.now() if created is None else created
        charge = self.add_charge(
            amount, currency=currency, created=when, email=email, customer=customer, payment_intent=intent_id
        )
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount if status == "succeeded" else 0,
            "currency": currency,
            "customer": customer,
            "receipt_email": email,
            "latest_charge": charge["id"],
            "metadata": dict(metadata or {}),
            "description": description,
            "created": when,
            "status": status,
            "livemode": False,
        }
        self.payment_intents[intent_id] = intent
        return intent

    def add_restricted_key(self, permissions: Iterable[str] = SALES_PERMISSIONS) -> str:
        """A restricted key (`rk_test_...`) with Read on these resources (names as in `PERMISSIONS`), and
        Write on those named `<name>_write` (`"webhook_endpoint_write"` lets it create webhook endpoints)."""
        known = {*PERMISSIONS.values(), *(f"{name}_write" for name in PERMISSIONS.values())}
        unknown = set(permissions) - known
        if unknown:
            raise ValueError(f"unknown permissions {sorted(unknown)}")
        key = "rk_test_" + secrets.token_hex(12)
        self.restricted_keys[key] = frozenset(permissions)
        return key

    def sell(
        self,
        amount: int,
        *,
        currency: str = "usd",
        email: str | None = None,
        customer_email: str | None = None,
        course_name: str | None = None,
        metadata: dict[str, str] | None = None,
        client_reference_id: str | None = None,
        checkout: bool = True,
        created: int | None = None,
        custom_fields: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A one-time sale, as a creator's Checkout (or a custom payment form when `checkout=False`) makes one.

        `email` is the receipt email the buyer typed; `customer_email`, when given, lives only on a Customer
        object; `custom_fields` are the Checkout's filled-in custom fields, as Stripe lists them. Returns
        {"payment_intent", "charge", "session", "customer", "events"}, the events being what Stripe sends:
        payment_intent.succeeded, charge.succeeded, then checkout.session.completed.
        """
        with self._lock:
            when = self.now() if created is None else created
            customer = self.add_customer(customer_email, created=when) if customer_email else None
            intent = self.add_payment_intent(
                amount,
                currency=currency,
                created=when,
                email=email,
                customer=customer["id"] if customer else None,
                metadata=metadata,
                description=None if checkout else course_name,
            )
            charge = self.charges[intent["latest_charge"]]
            if not checkout:
                charge["description"] = course_name
            session = None
            if checkout:
                session_id = "cs_test_" + secrets.token_hex(16)
                session = {
                    "id": session_id,
                    "object": "checkout.session",
                    "mode": "payment",
                    "status": "complete",
                    "payment_status": "paid",
                    "amount_subtotal": amount,
                    "amount_total": amount,
                    "currency": currency,
                    "customer": intent["customer"],
                    "customer_email": email,
                    "customer_details": {"email": email or customer_email, "name": None},
                    "client_reference_id": client_reference_id,
                    "custom_fields": list(custom_fields or []),
                    "metadata": dict(metadata or {}),
                    "payment_intent": intent["id"],
                    "subscription": None,
                    "invoice": None,
                    "url": None,
                    "created": when,
                    "expires_at": when + DAY,
                    "livemode": False,
                    "_line_items": [{"description": course_name or "Course", "amount_total": amount, "quantity": "1"}],
                    "_subscription_data": {},
                }
                self.checkout_sessions[session_id] = session
            events = [self.event("payment_intent.succeeded", intent), self.event("charge.succeeded", charge)]
            if session is not None:
                events.append(self.event("checkout.session.completed", self._public(session)))
            return {
                "payment_intent": intent,
                "charge": charge,
                "session": session,
                "customer": customer,
                "events": events,
            }

    def refund(self, charge_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund `amount` (the rest when None) of a charge; returns the charge.refunded event. Stripe keeps
        one running `amount_refunded` per charge."""
        with self._lock:
            charge = self.charges[charge_id]
            rest = charge["amount"] - charge["amount_refunded"]
            value = rest if amount is None else amount
            if not 0 < value <= rest:
                raise ValueError(f"can refund between 1 and {rest}, not {value}")
            charge["amount_refunded"] += value
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
            return self.event("charge.refunded", charge, {"amount_refunded": charge["amount_refunded"] - value})

    def seed_sales(self, n: int, *, days: int = 30, seed: int | None = None) -> list[dict[str, Any]]:
        """`n` sales spread over the last `days` (a few refunded, some without any email); no events kept."""
        rng = random.Random(seed)
        courses = ["Watercolour Basics", "Sourdough Masterclass", "Email List Accelerator", "Python for Poets"]
        sales = []
        with self._lock:
            for number in range(n):
                created = self.now() - rng.randrange(days * DAY - 60)
                with_email = rng.random() > 0.05
                sale = self.sell(
                    rng.choice([4_900, 9_900, 19_700, 49_700]),
                    email=f"buyer{number}@example.com" if with_email else None,
                    course_name=rng.choice(courses),
                    client_reference_id=f"visitor{number:08d}" if rng.random() < 0.5 else None,
                    checkout=rng.random() < 0.8,
                    created=created,
                )
                if rng.random() < 0.06:
                    self.refund(sale["charge"]["id"], None if rng.random() < 0.5 else 1_000)
                sales.append(sale)
            self.events.clear()
        return sales

    # --- events --------------------------------------------------------------------------------------

    def event(
        self, event_type: str, obj: dict[str, Any], previous_attributes: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """An event envelope around a snapshot of `obj`, as Stripe would send it now."""
        data: dict[str, Any] = {"object": json.loads(json.dumps(obj))}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
            "data": data,
        }
        with self._lock:
            self.events.append(event)
        return event

    def sign(
        self,
        event: dict[str, Any],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        rolled_from: tuple[str, ...] = (),
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a delivery of `event`, signed with the endpoint secret (or `secret`), and
        with each of `rolled_from` too (several v1 signatures, as during a secret roll)."""
        when = timestamp if timestamp is not None else int(time.time())
        return sign(event, secret or self.webhook_secret, when, rolled_from)

    def deliver(self, event: dict[str, Any], url: str | None = None, **signing: Any) -> int:
        """POST a signed delivery of `event` to `url` (default: `webhook_url`); returns the HTTP status."""
        target = url or self.webhook_url
        if target is None:
            raise ValueError("no webhook URL: pass one, or set FakeStripe.webhook_url")
        body, headers = self.sign(event, **signing)
        return deliver(target, body, headers)

    # --- acting out what happens on Stripe's side --------------------------------------------------------

    def complete_checkout(self, session_id: str) -> list[dict[str, Any]]:
        """The creator pays in the hosted Checkout page: a subscription starts and its first invoice is paid."""
        with self._lock:
            session = self.checkout_sessions.get(session_id)
            if session is None or session["status"] != "open":
                raise ValueError(f"no open Checkout Session {session_id}")
            customer_id = session["customer"] or self.add_customer(session["customer_email"])["id"]
            data = session["_subscription_data"]
            line = session["_line_items"][0]
            price = self.prices[line["price"]]
            now = self.now()
            trial_end = None
            if "trial_end" in data:
                trial_end = int(data["trial_end"])
            elif "trial_period_days" in data:
                trial_end = now + int(data["trial_period_days"]) * DAY
            period_end = trial_end or now + MONTH
            subscription = {
                "id": new_id("sub"),
                "object": "subscription",
                "customer": customer_id,
                "status": "trialing" if trial_end else "active",
                "cancel_at_period_end": False,
                "cancel_at": None,
                "canceled_at": None,
                "ended_at": None,
                "created": now,
                "start_date": now,
                "trial_start": now if trial_end else None,
                "trial_end": trial_end,
                "trial_settings": data.get("trial_settings"),
                "metadata": dict(data.get("metadata", {})),
                "items": {
                    "object": "list",
                    "data": [
                        {
                            "id": new_id("si"),
                            "object": "subscription_item",
                            "price": price,
                            "quantity": int(line["quantity"]),
                            "current_period_start": now,
                            "current_period_end": period_end,
                        }
                    ],
                    "has_more": False,
                },
                "latest_invoice": None,
                "livemode": False,
            }
            self.subscriptions[subscription["id"]] = subscription
            invoice = self._invoice(subscription, 0 if trial_end else price["unit_amount"], "subscription_create")
            self._mark_paid(invoice)
            invoice["attempted"] = True
            invoice["attempt_count"] = 1 if invoice["amount_due"] else 0
            session.update(
                status="complete",
                customer=customer_id,
                subscription=subscription["id"],
                invoice=invoice["id"],
                payment_status="paid" if invoice["amount_due"] else "no_payment_required",
            )
            return [
                self.event("customer.subscription.created", subscription),
                self.event("invoice.paid", invoice),
                self.event("checkout.session.completed", self._public(session)),
            ]

    def fail_payment(self, subscription_id: str) -> list[dict[str, Any]]:
        """One failed attempt to collect the subscription's open renewal invoice (opened on the first).

        Past the Dashboard's retry schedule (`retries`), the subscription is canceled, as configured in
        docs/billing.md.
        """
        with self._lock:
            subscription = self._subscription(subscription_id)
            invoice = self._open_invoice(subscription)
            invoice["attempt_count"] += 1
            invoice["attempted"] = True
            attempt = invoice["attempt_count"]
            final = attempt > self.retries
            invoice["next_payment_attempt"] = (
                None if final else self.now() + self.retry_days[min(attempt, len(self.retry_days)) - 1] * DAY
            )
            events = [self.event("invoice.payment_failed", invoice)]
            previous_status = subscription["status"]
            if final:
                invoice["status"] = "void"
                subscription.update(status="canceled", canceled_at=self.now(), ended_at=self.now())
                subscription["cancellation_details"] = {"reason": "payment_failed", "feedback": None, "comment": None}
                events.append(self.event("customer.subscription.deleted", subscription))
            elif previous_status != "past_due":
                subscription["status"] = "past_due"
                events.append(self.event("customer.subscription.updated", subscription, {"status": previous_status}))
            return events

    def pay_invoice(self, subscription_id: str) -> list[dict[str, Any]]:
        """The open renewal invoice is paid (a retry succeeded, or the creator fixed the card), or a trial ended
        and its first charge went through: either way the subscription is active again, and Stripe says so."""
        with self._lock:
            subscription = self._subscription(subscription_id)
            previous = subscription["status"]
            invoice = self._open_invoice(subscription)  # a trial's end opens the first charged period
            self._mark_paid(invoice)
            invoice["next_payment_attempt"] = None
            invoice["attempt_count"] += 1
            events = [self.event("invoice.paid", invoice)]
            if previous != "active":
                if subscription["status"] != "active":
                    subscription["status"] = "active"
                    self._advance_period(subscription)
                events.append(self.event("customer.subscription.updated", subscription, {"status": previous}))
            return events

    def cancel_at_period_end(self, subscription_id: str, cancel: bool = True) -> list[dict[str, Any]]:
        """The creator cancels (or resumes) in the Customer Portal."""
        with self._lock:
            subscription = self._subscription(subscription_id)
            previous = subscription["cancel_at_period_end"]
            subscription["cancel_at_period_end"] = cancel
            subscription["cancel_at"] = subscription["items"]["data"][0]["current_period_end"] if cancel else None
            return [self.event("customer.subscription.updated", subscription, {"cancel_at_period_end": previous})]

    def end_subscription(self, subscription_id: str) -> list[dict[str, Any]]:
        """The subscription ends now (its canceled period ran out, or the Dashboard canceled it)."""
        with self._lock:
            subscription = self._subscription(subscription_id)
            subscription.update(status="canceled", canceled_at=self.now(), ended_at=self.now())
            return [self.event("customer.subscription.deleted", subscription)]

    def require_action(self, subscription_id: str) -> list[dict[str, Any]]:
        """The renewal charge needs the cardholder to authenticate (3-D Secure): Stripe sends
        invoice.payment_action_required with the hosted invoice page where they can do it."""
        with self._lock:
            subscription = self._subscription(subscription_id)
            invoice = self._open_invoice(subscription)
            invoice["attempt_count"] += 1
            invoice["attempted"] = True
            events = [self.event("invoice.payment_action_required", invoice)]
            if subscription["status"] != "past_due":
                previous = subscription["status"]
                subscription["status"] = "past_due"
                events.append(self.event("customer.subscription.updated", subscription, {"status": previous}))
            return events

    def trial_will_end(self, subscription_id: str) -> list[dict[str, Any]]:
        """Three days before a subscription's trial ends, Stripe sends customer.subscription.trial_will_end."""
        with self._lock:
            return [self.event("customer.subscription.trial_will_end", self._subscription(subscription_id))]

    # --- internals -----------------------------------------------------------------------------------

    def _mark_paid(self, invoice: dict[str, Any]) -> None:
        """The invoice is paid; a non-zero amount is paid by a PaymentIntent, linked through an InvoicePayment
        (since API version 2025-03-31 invoices no longer name their charge or payment intent)."""
        invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
        if not invoice["amount_due"]:
            return
        intent = self.add_payment_intent(
            invoice["amount_due"], currency=invoice["currency"], customer=invoice["customer"]
        )
        payment_id = new_id("inpay")
        self.invoice_payments[payment_id] = {
            "id": payment_id,
            "object": "invoice_payment",
            "amount_paid": invoice["amount_due"],
            "amount_requested": invoice["amount_due"],
            "currency": invoice["currency"],
            "invoice": invoice["id"],
            "is_default": True,
            "payment": {"type": "payment_intent", "payment_intent": intent["id"]},
            "status": "paid",
            "status_transitions": {"canceled_at": None, "paid_at": self.now()},
            "created": self.now(),
            "livemode": False,
        }

    def live_subscriptions(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's subscriptions that may still charge (for tests' assertions)."""
        return [
            s
            for s in self.subscriptions.values()
            if s["customer"] == customer_id and s["status"] not in ("canceled", "incomplete_expired")
        ]

    def _subscription(self, subscription_id: str) -> dict[str, Any]:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise missing("subscription", subscription_id)
        return subscription

    def _invoice(self, subscription: dict[str, Any], amount: int, reason: str) -> dict[str, Any]:
        customer = self.customers[subscription["customer"]]
        item = subscription["items"]["data"][0]
        invoice = {
            "id": new_id("in"),
            "object": "invoice",
            "customer": subscription["customer"],
            "customer_email": customer["email"],
            "status": "open",
            "billing_reason": reason,
            "amount_due": amount,
            "amount_paid": 0,
            "amount_remaining": amount,
            "currency": item["price"]["currency"],
            "attempt_count": 0,
            "attempted": False,
            "next_payment_attempt": None,
            "hosted_invoice_url": f"{self.base_url}/invoice/{secrets.token_hex(8)}",
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"subscription": subscription["id"], "metadata": subscription["metadata"]},
            },
            "period_start": item["current_period_start"],
            "period_end": item["current_period_end"],
            "created": self.now(),
            "livemode": False,
        }
        self.invoices[invoice["id"]] = invoice
        subscription["latest_invoice"] = invoice["id"]
        return invoice

    def _open_invoice(self, subscription: dict[str, Any]) -> dict[str, Any]:
        latest = self.invoices.get(subscription["latest_invoice"] or "")
        if latest is not None and latest["status"] == "open":
            return latest
        self._advance_period(subscription)
        price = subscription["items"]["data"][0]["price"]
        return self._invoice(subscription, price["unit_amount"], "subscription_cycle")

    def _advance_period(self, subscription: dict[str, Any]) -> None:
        item = subscription["items"]["data"][0]
        item["current_period_start"] = item["current_period_end"]
        item["current_period_end"] = item["current_period_end"] + MONTH
        if subscription["status"] == "trialing":
            subscription["status"] = "active"

    @staticmethod
    def _public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    # --- the API ---------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        for route_method, pattern, handler in _ROUTES:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                with self._lock:
                    return 200, handler(self, params, *match.groups())
        raise StripeApiError(404, f"Unrecognized request URL ({method}: {path}).")

    def _create_checkout_session(self, params: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown(
            params,
            (
                "mode",
                "line_items",
                "success_url",
                "cancel_url",
                "customer",
                "customer_email",
                "client_reference_id",
                "subscription_data",
                "payment_method_collection",
                "metadata",
                "allow_promotion_codes",
                "billing_address_collection",
                "locale",
                "expand",
            ),
        )
        mode = params.get("mode")
        if mode not in ("payment", "setup", "subscription"):
            raise invalid("mode", "mode must be one of payment, setup, subscription")
        if "success_url" not in params:
            raise StripeApiError(400, "Missing required param: success_url.", param="success_url")
        for name in ("success_url", "cancel_url"):
            if name in params and urlsplit(params[name]).scheme not in ("http", "https"):
                raise invalid(name, f"Not a valid URL: {params[name]}")
        if "customer" in params and "customer_email" in params:
            raise invalid("customer_email", "You may only specify one of these parameters: customer, customer_email.")
        if "customer" in params and params["customer"] not in self.customers:
            raise missing("customer", params["customer"], "customer")
        if len(params.get("client_reference_id", "")) > 200:
            raise invalid("client_reference_id", "client_reference_id is at most 200 characters")
        line_items = params.get("line_items")
        if mode == "subscription" and not line_items:
            raise StripeApiError(400, "Missing required param: line_items.", param="line_items")
        if not isinstance(line_items, list):
            raise invalid("line_items", "line_items must be an array")
        for index, line in enumerate(line_items):
            refuse_unknown(line, ("price", "quantity"), f"line_items[{index}][")
            if line.get("price") not in self.prices:
                raise missing("price", str(line.get("price")), f"line_items[{index}][price]")
            if mode == "subscription" and self.prices[line["price"]]["type"] != "recurring":
                raise invalid(f"line_items[{index}][price]", "subscription mode needs a recurring price")
            if "quantity" not in line:
                raise StripeApiError(400, "Missing required param: quantity.", param=f"line_items[{index}][quantity]")
            as_int(line, "quantity", minimum=1, maximum=999_999)
        subscription_data = params.get("subscription_data", {})
        if subscription_data and mode != "subscription":
            raise invalid("subscription_data", "subscription_data is only for subscription mode")
        self._check_subscription_data(subscription_data)
        collection = params.get("payment_method_collection", "always")
        if collection not in ("always", "if_required"):
            raise invalid("payment_method_collection", "must be always or if_required")
        session_id = "cs_test_" + secrets.token_hex(16)
        now = self.now()
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "url": f"{self.base_url}/checkout/{session_id}",
            "success_url": params["success_url"],
            "cancel_url": params.get("cancel_url"),
            "customer": params.get("customer"),
            "customer_email": params.get("customer_email"),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "payment_method_collection": collection,
            "subscription": None,
            "invoice": None,
            "created": now,
            "expires_at": now + DAY,
            "livemode": False,
            "_line_items": line_items,
            "_subscription_data": subscription_data,
        }
        self.checkout_sessions[session_id] = session
        return self._public(session)

    def _check_subscription_data(self, data: dict[str, Any]) -> None:
        prefix = "subscription_data["
        refuse_unknown(data, ("trial_end", "trial_period_days", "trial_settings", "metadata", "description"), prefix)
        if "trial_end" in data and "trial_period_days" in data:
            raise invalid("subscription_data[trial_end]", "Only one of trial_end and trial_period_days may be set.")
        if "trial_end" in data:
            trial_end = as_int(data, "trial_end")
            if trial_end < self.now() + 2 * DAY:
                raise invalid("subscription_data[trial_end]", "The trial_end must be at least 2 days in the future.")
        if "trial_period_days" in data:
            as_int(data, "trial_period_days", minimum=1, maximum=730)
        if "trial_settings" in data:
            settings = data["trial_settings"]
            refuse_unknown(settings, ("end_behavior",), f"{prefix}trial_settings][")
            behavior = settings.get("end_behavior", {})
            refuse_unknown(behavior, ("missing_payment_method",), f"{prefix}trial_settings][end_behavior][")
            if behavior.get("missing_payment_method") not in _MISSING_PAYMENT_METHOD:
                raise invalid(
                    "subscription_data[trial_settings][end_behavior][missing_payment_method]",
                    "must be one of cancel, create_invoice, pause",
                )

    def _create_portal_session(self, params: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown(params, ("customer", "return_url", "configuration", "flow_data", "locale", "expand"))
        if "customer" not in params:
            raise StripeApiError(400, "Missing required param: customer.", param="customer")
        if params["customer"] not in self.customers:
            raise missing("customer", params["customer"], "customer")
        if "return_url" in params and urlsplit(params["return_url"]).scheme not in ("http", "https"):
            raise invalid("return_url", f"Not a valid URL: {params['return_url']}")
        flow = params.get("flow_data")
        if flow is not None and flow.get("type") not in (
            "payment_method_update",
            "subscription_cancel",
            "subscription_update",
            "subscription_update_confirm",
        ):
            raise invalid("flow_data[type]", "unknown flow type")
        session_id = new_id("bps")
        session = {
            "id": session_id,
            "object": "billing_portal.session",
            "customer": params["customer"],
            "return_url": params.get("return_url"),
            "flow": flow,
            "url": f"{self.base_url}/portal/{session_id}",
            "created": self.now(),
            "livemode": False,
        }
        self.portal_sessions[session_id] = session
        return session

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown(params, ("email", "name", "metadata", "description", "expand"))
        customer = self.add_customer(params.get("email"), metadata=params.get("metadata"))
        customer["name"] = params.get("name")
        return customer

    def _retrieve_checkout_session(self, params: dict[str, Any], session_id: str) -> dict[str, Any]:
        return self._public(self._retrieve("checkout.session", self.checkout_sessions, session_id))

    def _list_checkout_sessions(self, params: dict[str, Any]) -> dict[str, Any]:
        sessions = list(self.checkout_sessions.values())
        if "status" in params:
            if params["status"] not in ("open", "complete", "expired"):
                raise invalid("status", "status must be one of open, complete, expired")
            sessions = [s for s in sessions if s["status"] == params["status"]]
        page = self._list("/v1/checkout/sessions", sessions, params, ("payment_intent", "customer", "status"))
        expand = params.get("expand") or []
        sessions = []
        for session in page["data"]:
            public = self._public(session)
            if "data.line_items" in expand:
                public["line_items"] = self._checkout_line_items({}, session["id"])
            sessions.append(public)
        return {**page, "data": sessions}

    def _checkout_line_items(self, params: dict[str, Any], session_id: str) -> dict[str, Any]:
        session = self._retrieve("checkout.session", self.checkout_sessions, session_id)
        items = []
        for index, line in enumerate(session["_line_items"]):
            price = self.prices.get(line.get("price", ""))
            items.append(
                {
                    "id": f"li_{session_id[-12:]}{index}",
                    "object": "item",
                    "description": line.get("description") or (price or {}).get("id"),
                    "amount_total": int(line.get("amount_total") or (price or {}).get("unit_amount") or 0),
                    "currency": session.get("currency") or (price or {}).get("currency"),
                    "quantity": int(line.get("quantity") or 1),
                    "price": price,
                    "created": session["created"],
                }
            )
        return list_page(f"/v1/checkout/sessions/{session_id}/line_items", items, params)

    def _create_webhook_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown(params, ("url", "enabled_events", "description", "api_version", "metadata", "expand"))
        if urlsplit(params.get("url", "")).scheme not in ("http", "https"):
            raise invalid("url", f"Invalid URL: {params.get('url')}")
        events = params.get("enabled_events")
        if not isinstance(events, list) or not events:
            raise StripeApiError(400, "Missing required param: enabled_events.", param="enabled_events")
        endpoint = {
            "id": new_id("we"),
            "object": "webhook_endpoint",
            "url": params["url"],
            "enabled_events": events,
            "description": params.get("description"),
            "status": "enabled",
            "secret": "whsec_" + secrets.token_hex(16),  # shown only in the answer to its creation
            "created": self.now(),
            "livemode": False,
        }
        self.webhook_endpoints[endpoint["id"]] = endpoint
        return endpoint

    def _delete_webhook_endpoint(self, params: dict[str, Any], endpoint_id: str) -> dict[str, Any]:
        if self.webhook_endpoints.pop(endpoint_id, None) is None:
            raise missing("webhook_endpoint", endpoint_id)
        return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}

    def _retrieve(self, kind: str, store: dict[str, dict[str, Any]], object_id: str) -> dict[str, Any]:
        if object_id not in store:
            raise missing(kind, object_id)
        return store[object_id]

    def _list(
        self,
        path: str,
        objects: dict[str, dict[str, Any]] | list[dict[str, Any]],
        params: dict[str, Any],
        filters: tuple[str, ...],
    ) -> dict[str, Any]:
        items = list(objects.values()) if isinstance(objects, dict) else objects
        refuse_unknown(params, ("created", "limit", "starting_after", "ending_before", "expand", *filters))
        for name in filters:
            if name in params and name != "status":
                items = [item for item in items if item.get(name) == params[name]]
        # Newest first; objects from the same second in the reverse of the order they were made.
        ordered = sorted(enumerate(items), key=lambda pair: (pair[1]["created"], pair[0]), reverse=True)
        return list_page(path, [item for _, item in ordered], params)

    def _update_subscription(self, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
        refuse_unknown(params, ("cancel_at_period_end", "metadata", "expand"))
        subscription = self._subscription(subscription_id)
        if subscription["status"] == "canceled":
            raise StripeApiError(400, "A canceled subscription can only update its cancellation_details and metadata.")
        if "cancel_at_period_end" in params:
            self.cancel_at_period_end(subscription_id, as_bool(params, "cancel_at_period_end"))
        if "metadata" in params:
            subscription["metadata"].update(params["metadata"])
        return subscription

    def _cancel_subscription(self, params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
        refuse_unknown(params, ("invoice_now", "prorate", "cancellation_details"))
        subscription = self._subscription(subscription_id)
        if subscription["status"] == "canceled":
            raise StripeApiError(400, "This subscription has already been canceled.")
        self.end_subscription(subscription_id)
        return subscription

    def _expire_checkout_session(self, params: dict[str, Any], session_id: str) -> dict[str, Any]:
        refuse_unknown(params, ("expand",))
        session = self._retrieve("checkout.session", self.checkout_sessions, session_id)
        if session["status"] != "open":
            raise StripeApiError(
                400,
                f"Only Checkout Sessions with a status of open can be expired. This session is {session['status']}.",
            )
        session.update(status="expired", url=None)
        return self._public(session)

    def _list_invoices(self, params: dict[str, Any]) -> dict[str, Any]:
        items = list(self.invoices.values())
        if "status" in params:
            items = [i for i in items if i["status"] == params["status"]]
        if "subscription" in params:
            items = [i for i in items if i["parent"]["subscription_details"]["subscription"] == params["subscription"]]
        return self._list(
            "/v1/invoices",
            items,
            {k: v for k, v in params.items() if k != "subscription"},
            (
                "customer",
                "status",
            ),
        )

    def _list_invoice_payments(self, params: dict[str, Any]) -> dict[str, Any]:
        items = list(self.invoice_payments.values())
        if "status" in params:
            if params["status"] not in ("canceled", "open", "paid"):
                raise invalid("status", "status must be one of canceled, open, paid")
            items = [p for p in items if p["status"] == params["status"]]
        return self._list("/v1/invoice_payments", items, params, ("invoice", "status"))

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        refuse_unknown(params, ("charge", "payment_intent", "amount", "reason", "metadata", "expand"))
        if ("charge" in params) == ("payment_intent" in params):
            raise StripeApiError(400, "You must provide exactly one of charge or payment_intent.")
        if "payment_intent" in params:
            intent = self._retrieve("payment_intent", self.payment_intents, params["payment_intent"])
            charge = self.charges[intent["latest_charge"]]
        else:
            charge = self._retrieve("charge", self.charges, params["charge"])
        rest = charge["amount"] - charge["amount_refunded"]
        if rest <= 0:
            raise StripeApiError(
                400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
            )
        amount = as_int(params, "amount", minimum=1, maximum=rest) if "amount" in params else rest
        if params.get("reason") not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise invalid("reason", "reason must be one of duplicate, fraudulent, requested_by_customer")
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "currency": charge["currency"],
            "reason": params.get("reason"),
            "metadata": dict(params.get("metadata") or {}),
            "status": "succeeded",
            "created": self.now(),
        }
        self.refunds[refund["id"]] = refund
        self.event("charge.refunded", charge)
        return refund

    def _list_subscriptions(self, params: dict[str, Any]) -> dict[str, Any]:
        status = params.get("status")
        items = list(self.subscriptions.values())
        if status is None:
            items = [s for s in items if s["status"] != "canceled"]  # Stripe's default leaves out canceled ones
        elif status != "all":
            items = [s for s in items if s["status"] == status]
        return self._list("/v1/subscriptions", items, params, ("customer", "status"))


def _route(method: str, pattern: str, handler: Callable[..., dict[str, Any]]) -> tuple[str, re.Pattern[str], Any]:
    return method, re.compile(pattern), handler


_ID = r"([A-Za-z0-9_]+)"
_ROUTES = [
    _route("POST", r"/v1/checkout/sessions", FakeStripe._create_checkout_session),
    _route("GET", rf"/v1/checkout/sessions/{_ID}", FakeStripe._retrieve_checkout_session),
    _route("GET", rf"/v1/checkout/sessions/{_ID}/line_items", FakeStripe._checkout_line_items),
    _route("GET", r"/v1/checkout/sessions", FakeStripe._list_checkout_sessions),
    _route("POST", rf"/v1/checkout/sessions/{_ID}/expire", FakeStripe._expire_checkout_session),
    _route("GET", r"/v1/invoices", FakeStripe._list_invoices),
    _route("GET", rf"/v1/invoices/{_ID}", lambda s, p, i: s._retrieve("invoice", s.invoices, i)),
    _route("GET", r"/v1/invoice_payments", FakeStripe._list_invoice_payments),
    _route("POST", r"/v1/refunds", FakeStripe._create_refund),
    _route("GET", r"/v1/events", lambda s, p: s._list("/v1/events", s.events, p, ("type",))),
    _route("POST", r"/v1/webhook_endpoints", FakeStripe._create_webhook_endpoint),
    _route("DELETE", rf"/v1/webhook_endpoints/{_ID}", FakeStripe._delete_webhook_endpoint),
    _route("POST", r"/v1/billing_portal/sessions", FakeStripe._create_portal_session),
    _route("POST", r"/v1/customers", FakeStripe._create_customer),
    _route("GET", rf"/v1/customers/{_ID}", lambda s, p, i: s._retrieve("customer", s.customers, i)),
    _route("GET", r"/v1/customers", lambda s, p: s._list("/v1/customers", s.customers, p, ("email",))),
    _route("GET", rf"/v1/subscriptions/{_ID}", lambda s, p, i: s._retrieve("subscription", s.subscriptions, i)),
    _route("POST", rf"/v1/subscriptions/{_ID}", FakeStripe._update_subscription),
    _route("DELETE", rf"/v1/subscriptions/{_ID}", FakeStripe._cancel_subscription),
    _route("GET", r"/v1/subscriptions", FakeStripe._list_subscriptions),
    _route("GET", r"/v1/charges", lambda s, p: s._list("/v1/charges", s.charges, p, ("customer", "payment_intent"))),
    _route("GET", rf"/v1/charges/{_ID}", lambda s, p, i: s._retrieve("charge", s.charges, i)),
    _route(
        "GET", r"/v1/payment_intents", lambda s, p: s._list("/v1/payment_intents", s.payment_intents, p, ("customer",))
    ),
    _route("GET", rf"/v1/payment_intents/{_ID}", lambda s, p, i: s._retrieve("payment_intent", s.payment_intents, i)),
]


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>{body}</body></html>"""


class _Handler(BaseHTTPRequestHandler):
    stripe: FakeStripe
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read `FakeStripe.requests` instead

    def _params(self) -> dict[str, Any]:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        return decode_params(body if self.command in ("POST", "DELETE") and body else url.query)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", new_id("req"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _serve(self) -> None:
        path = urlsplit(self.path).path
        try:
            params = self._params()
        except StripeApiError as error:
            self._json(error.status, error.body())
            return
        if not path.startswith("/v1/"):
            self._hosted_page(path)
            return
        given_key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        restricted = self.stripe.restricted_keys.get(given_key)
        authorized = given_key == self.stripe.secret_key or restricted is not None
        self.stripe.requests.append(RecordedRequest(self.command, path, params, authorized))
        if restricted is not None:
            needed = _permission_for(path)
            writes = self.command != "GET"
            if needed is None or (f"{needed}_write" not in restricted and (writes or needed not in restricted)):
                resource = needed or path
                access = "write" if writes else "read"
                message = (
                    f"The provided key '{given_key[:8]}****{given_key[-4:]}' does not have the required permissions "
                    f"for this endpoint on account 'acct_fake'. Having the 'rak_{resource}_{access}' permission "
                    "would allow this request to continue."
                )
                self._json(403, {"error": {"type": "invalid_request_error", "message": message}})
                return
        if not authorized:
            given = self.headers.get("Authorization", "")
            message = (
                "You did not provide an API key."
                if not given
                else f"Invalid API Key provided: {given.removeprefix('Bearer ')[:8]}****"
            )
            self._json(401, {"error": {"type": "invalid_request_error", "message": message}})
            return
        try:
            status, payload = self.stripe.handle(self.command, path, params)
        except StripeApiError as error:
            self._json(error.status, error.body())
            return
        except Exception as error:  # a bug in the fake: answer as Stripe answers its own failures
            self._json(500, {"error": {"type": "api_error", "message": f"{type(error).__name__}: {error}"}})
            return
        self._json(status, payload)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve

    # The hosted pages a creator's browser visits: enough to click through Checkout and the Portal.

    def _hosted_page(self, path: str) -> None:
        stripe = self.stripe
        parts = path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "checkout" and parts[1] in stripe.checkout_sessions:
            session = stripe.checkout_sessions[parts[1]]
            if self.command == "POST" and parts[2:] == ["pay"]:
                for event in stripe.complete_checkout(session["id"]):
                    if stripe.webhook_url:
                        stripe.deliver(event)
                self._redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"]))
                return
            price = stripe.prices[session["_line_items"][0]["price"]]
            body = (
                f"<p>Subscribe for {price['unit_amount'] / 100:.2f} {price['currency'].upper()} per "
                f"{price['recurring']['interval']}</p>"
                f'<form method="post" action="/checkout/{session["id"]}/pay"><button>Subscribe</button></form>'
            )
            self._send(200, _PAGE.format(title="Fake Stripe Checkout", body=body).encode(), "text/html")
            return
        if len(parts) >= 2 and parts[0] == "portal" and parts[1] in stripe.portal_sessions:
            session = stripe.portal_sessions[parts[1]]
            current = [
                s
                for s in stripe.subscriptions.values()
                if s["customer"] == session["customer"] and s["status"] != "canceled"
            ]
            if self.command == "POST" and parts[2:] == ["cancel"] and current:
                for event in stripe.cancel_at_period_end(current[0]["id"]):
                    if stripe.webhook_url:
                        stripe.deliver(event)
                self._redirect(session["return_url"] or "/")
                return
            body = "".join(
                f"<p>Plan {html.escape(s['id'])}: {s['status']}</p>"
                f'<form method="post" action="/portal/{session["id"]}/cancel"><button>Cancel plan</button></form>'
                for s in current
            )
            body += f'<p><a href="{html.escape(session["return_url"] or "/")}">Return</a></p>'
            self._send(200, _PAGE.format(title="Fake Stripe Customer Portal", body=body).encode(), "text/html")
            return
        self._send(404, b"Not found", "text/plain")

    def _redirect(self, location: str) -> None:
        self._send(303, b"", "text/plain", {"Location": location})
