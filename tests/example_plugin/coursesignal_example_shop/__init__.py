"""Example Shop for CourseSignal: a complete platform plugin in one module.

Example Shop is an imaginary course shop with a small JSON API (`coursesignal_example_shop/fake.py`
serves it):

    GET /api/orders?since=<ISO 8601>&page=<n>   {"orders": [order, ...], "next_page": n | null}
    GET /api/orders/<id>                        order (404 when there is no such order)
    order = {"id", "email", "amount_cents", "currency", "created_at", "product", "refunded_cents"}

Requests carry `Authorization: Bearer <api key>`; a wrong key is a 401. Its webhooks (`{"event_id",
"order"}`) are not signed, so the connection's URL carries a secret token (WebhookAuth.URL_TOKEN) and
every order is read back through the API before it counts (`confirm_records`).

It imports only `coursesignal`, and registers under the `coursesignal.platforms` entry point in its
pyproject.toml. docs/plugins.md walks through it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests

from coursesignal import (
    ConnectionCheck,
    CredentialField,
    Credentials,
    CredentialsRejected,
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
    WebhookRejected,
    hookimpl,
)

NAME = "example_shop"
DEFAULT_API_URL = "https://api.example-shop.invalid"
MAX_PAGES = 1000


class UnreadableOrder(ValueError):
    pass


def _records(order: Any) -> list[PlatformRecord]:
    """An order as a purchase, and its refund when money went back (one running total per order)."""
    if not isinstance(order, dict):
        raise UnreadableOrder("an order is a JSON object")
    try:
        order_id = str(order["id"])
        amount = order["amount_cents"]
        refunded = order.get("refunded_cents") or 0
        if not isinstance(amount, int) or not isinstance(refunded, int) or isinstance(amount, bool):
            raise UnreadableOrder("amounts are whole cents")
        money = Money(amount, str(order["currency"]).upper())
        created = datetime.fromisoformat(str(order["created_at"])).astimezone(UTC)
    except (KeyError, ValueError, TypeError) as error:
        raise UnreadableOrder(f"order {order.get('id')!r}: {error}") from None
    email = order.get("email")
    purchase = PurchaseRecord(
        platform=NAME,
        platform_purchase_id=order_id,
        amount=money,
        purchased_at=created,
        email=email.strip().lower() if isinstance(email, str) and "@" in email else None,
        course_name=order.get("product") if isinstance(order.get("product"), str) else None,
    )
    if refunded <= 0:
        return [purchase]
    refund = RefundRecord(NAME, order_id, f"{order_id}:refund", Money(min(refunded, amount), money.currency), created)
    return [purchase, refund]


class ExampleShop(PlatformAdapter):
    name: ClassVar[str] = NAME
    display_name: ClassVar[str] = "Example Shop"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            "api_key", "API key", help="In Example Shop open Settings > API and copy the key.", secret=True
        ),
    )
    webhook_auth: ClassVar[WebhookAuth] = WebhookAuth.URL_TOKEN

    def __init__(self, api_url: str = DEFAULT_API_URL, http: RetryingHttp | None = None) -> None:
        self._api_url = api_url.rstrip("/")
        self._http = http or RetryingHttp(self.display_name)

    def _get(self, credentials: Mapping[str, str], path: str, **params: Any) -> Any:
        with requests.Session() as session:
            response = self._http.request(
                session,
                "GET",
                f"{self._api_url}{path}",
                params=params,
                headers={"Authorization": f"Bearer {credentials.get('api_key', '')}"},
            )
        if response.status_code == 401:
            raise CredentialsRejected("Example Shop refused this API key: copy it again from Settings > API.")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise PlatformError(f"Example Shop refused a request (HTTP {response.status_code}). Try again later.")
        return response.json()

    def check_credentials(self, credentials: Credentials) -> ConnectionCheck:
        try:
            self._get(credentials, "/api/orders", page=1)
        except PlatformError as problem:
            return ConnectionCheck(False, str(problem))
        return ConnectionCheck(True, "Connected to Example Shop.")

    def fetch_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        """Orders since `since`, page by page (`next_page`), reporting progress after each."""
        done = pages = 0
        page: int | None = 1
        while page is not None and pages < MAX_PAGES:
            body = self._get(credentials, "/api/orders", since=since.isoformat(), page=page)
            pages += 1
            for order in body["orders"]:
                try:
                    records = _records(order)
                except UnreadableOrder:
                    continue  # one unreadable order must not lose the rest of the sync
                done += 1
                yield from records
            progress(done, None, pages=pages)
            page = body.get("next_page")
        progress(done, done, pages=pages)

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        try:
            body = json.loads(delivery.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise WebhookRejected("The body is not JSON.") from None
        if not isinstance(body, dict) or not isinstance(body.get("event_id"), str) or not body["event_id"]:
            raise WebhookRejected("Not an Example Shop event: no event_id.")
        try:
            return WebhookBatch(event_id=body["event_id"], records=tuple(_records(body.get("order"))))
        except UnreadableOrder as error:
            raise WebhookRejected(str(error)) from None

    def confirm_records(self, credentials: Credentials, records: Sequence[PlatformRecord]) -> Sequence[PlatformRecord]:
        """Unsigned webhooks: each order as the API has it, or nothing when the API does not know it."""
        confirmed: list[PlatformRecord] = []
        for order_id in dict.fromkeys(r.platform_purchase_id for r in records):
            order = self._get(credentials, f"/api/orders/{order_id}")
            if order is not None:
                confirmed.extend(_records(order))
        return confirmed


@hookimpl
def coursesignal_platforms(api_urls: Mapping[str, str]) -> list[PlatformAdapter]:
    return [ExampleShop(api_urls.get(NAME) or DEFAULT_API_URL)]
