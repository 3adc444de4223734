"""Reading a creator's Stripe account with their restricted key: one `StripeClient` per call (nothing is
ever set on the `stripe` module), Stripe's errors turned into sentences a creator can act on, and lists
read page by page so a sync can report its progress."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import stripe

from coursesignal import CredentialsRejected, PlatformError, PlatformUnavailable

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # Stripe's maximum
#: A sync never reads more pages than this (100,000 objects): a loop that does not end is a bug.
MAX_PAGES = 1000
TIMEOUT_SECONDS = 30
NETWORK_RETRIES = 3  # stripe-python's own: backoff on 429, 5xx and network errors, honouring Stripe-Should-Retry

#: What each resource is called in Stripe's Dashboard, where the creator sets a restricted key's access.
RESOURCE_NAMES = {
    "charges": "Charges",
    "payment_intents": "PaymentIntents",
    "customers": "Customers",
    "checkout_sessions": "Checkout Sessions",
    "events": "Events",
    "webhook_endpoints": "Webhook Endpoints",
}
#: What the sync and the webhooks read: the key must have Read on each.
READ_RESOURCES = ("charges", "payment_intents", "customers", "checkout_sessions", "events")

BAD_KEY = (
    "Stripe refused this key. In Stripe open Developers > API keys, create a restricted key (or roll the "
    "old one) and paste the whole key, starting with rk_live_ (or rk_test_ for test mode)."
)


def missing_permission(resource: str) -> str:
    name = RESOURCE_NAMES.get(resource, resource)
    return (
        f"This Stripe key may not read {name}. In Stripe open Developers > API keys, edit the restricted key "
        f"and set {name} to Read (CourseSignal needs Read on Charges, PaymentIntents, Customers, Checkout "
        "Sessions and Events), then connect again."
    )


class StripeAccount:
    """One creator's Stripe account, read through one StripeClient."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client
        self._customer_emails: dict[str, str | None] = {}

    def _call(self, resource: str, call: Any) -> Any:
        try:
            return call()
        except stripe.AuthenticationError:
            raise CredentialsRejected(BAD_KEY) from None
        except stripe.PermissionError:
            raise CredentialsRejected(missing_permission(resource)) from None
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            log.warning("Stripe (%s): %s", resource, error)
            raise PlatformUnavailable(
                "Stripe is not answering right now. CourseSignal will try again; if this lasts, check "
                "status.stripe.com."
            ) from None
        except stripe.StripeError as error:
            log.warning("Stripe refused a %s request: %s (request %s)", resource, error, error.request_id)
            if (error.http_status or 0) >= 500:
                raise PlatformUnavailable("Stripe is having trouble right now. Try again in a few minutes.") from None
            raise PlatformError(f"Stripe refused a request for {RESOURCE_NAMES.get(resource, resource)}.") from None

    def _service(self, resource: str) -> Any:
        v1 = self._client.v1
        return v1.checkout.sessions if resource == "checkout_sessions" else getattr(v1, resource)

    def peek(self, resource: str) -> None:
        """One object of `resource` (or none): proves the key and its Read permission on it."""
        self._call(resource, lambda: self._service(resource).list(params={"limit": 1}))

    def pages(self, resource: str, params: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list, newest first, as plain dicts (stripe-python's objects are not dicts)."""
        query: dict[str, Any] = {"limit": PAGE_SIZE, **params}
        for _ in range(MAX_PAGES):
            page = self._call(resource, lambda q=dict(query): self._service(resource).list(params=q))
            data = [item.to_dict() for item in page.data]
            yield data
            if not page.has_more or not data:
                return
            query["starting_after"] = data[-1]["id"]
        log.warning("Stripe: stopped after %d pages of %s", MAX_PAGES, resource)

    def retrieve(self, resource: str, object_id: str) -> dict[str, Any]:
        return dict(self._call(resource, lambda: self._service(resource).retrieve(object_id)).to_dict())

    def create_webhook_endpoint(self, url: str, events: Sequence[str]) -> dict[str, Any]:
        """A webhook endpoint delivering `events` to `url`; its answer is the only time Stripe shows its secret."""
        params = {"url": url, "enabled_events": list(events), "description": "CourseSignal: course sales"}
        endpoint = self._call("webhook_endpoints", lambda: self._client.v1.webhook_endpoints.create(params=params))
        return dict(endpoint.to_dict())

    def delete_webhook_endpoint(self, endpoint_id: str) -> None:
        try:
            self._call("webhook_endpoints", lambda: self._client.v1.webhook_endpoints.delete(endpoint_id))
        except (CredentialsRejected, PlatformUnavailable):
            raise
        except PlatformError:
            pass  # already gone

    def customer_email(self, customer_id: str) -> str | None:
        if customer_id not in self._customer_emails:
            try:
                customer = self._call("customers", lambda: self._client.v1.customers.retrieve(customer_id))
            except (CredentialsRejected, PlatformUnavailable):
                raise
            except PlatformError:
                customer = None  # no such customer any more: the purchase stays without this email
            email = customer["email"] if customer is not None and "email" in customer else None
            self._customer_emails[customer_id] = email if isinstance(email, str) else None
        return self._customer_emails[customer_id]

    def session_of(self, payment_intent_id: str) -> dict[str, Any] | None:
        """The Checkout Session that made a payment intent, with its line items, when there is one."""
        for page in self.pages(
            "checkout_sessions", {"payment_intent": payment_intent_id, "limit": 1, "expand": ["data.line_items"]}
        ):
            return page[0] if page else None
        return None


@contextmanager
def stripe_account(api_key: str, api_url: str | None) -> Iterator[StripeAccount]:
    """A StripeClient for one call with the creator's key; its HTTP session is closed afterwards."""
    http_client = stripe.RequestsClient(timeout=TIMEOUT_SECONDS)
    try:
        yield StripeAccount(
            stripe.StripeClient(
                api_key,
                base_addresses={"api": api_url} if api_url else None,
                max_network_retries=NETWORK_RETRIES,
                http_client=http_client,
            )
        )
    finally:
        http_client.close()
