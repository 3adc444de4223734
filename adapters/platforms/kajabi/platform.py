"""Kajabi, the built-in platform: the PlatformAdapter every other part of CourseSignal sees."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from adapters.platforms.http import RetryingHttp
from adapters.platforms.kajabi.client import PAGE_SIZE, KajabiClient
from adapters.platforms.kajabi.records import (
    PLATFORM,
    UnreadableResource,
    index_resources,
    is_refund,
    parse_time,
    purchase_record,
    refund_record,
)
from core.domain.purchases import PurchaseRecord
from core.ports.platforms import (
    ConnectChoice,
    ConnectionCheck,
    CredentialField,
    Credentials,
    PlatformAdapter,
    PlatformError,
    PlatformRecord,
    PlatformUnavailable,
    SyncProgress,
    WebhookAuth,
    WebhookBatch,
    WebhookDelivery,
    WebhookRejected,
)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.kajabi.com"
#: The hook events CourseSignal registers. `purchase` carries each sale; refunds have no hook at all
#: and come from polling /v1/transactions; `payment_succeeded` would repeat the same sale.
HOOK_EVENTS = ("purchase",)
#: The docs disagree on the hooks path (research §1.3): the first that answers wins.
HOOK_PREFIXES = ("/v1/hooks", "/api/v1/hooks")

KEY_HELP = (
    "In Kajabi, open Dashboard > Settings > Public API and click “Create User API Key”. Give it the "
    "permissions View purchases, View transactions, View orders and View contacts, then copy its client ID "
    "and client secret here. Only the site's Owner or a Subowner can create keys."
)


PURCHASES, REFUNDS, DONE = "purchases", "refunds", "done"


@dataclass(frozen=True, slots=True)
class SyncCursor:
    """Where a sync carries on: the list being read and its next page's URL (None: that list's first page),
    with the counts so far, so a resumed sync's progress continues instead of starting again at zero."""

    phase: str = PURCHASES
    next_url: str | None = None
    found: int = 0
    pages: int = 0
    total: int | None = None

    def dump(self) -> str:
        return json.dumps(
            {"phase": self.phase, "next": self.next_url, "found": self.found, "pages": self.pages, "total": self.total}
        )

    @classmethod
    def load(cls, text: str) -> SyncCursor:
        """The cursor `dump` wrote; an unreadable one starts from the beginning (records read twice count once)."""
        try:
            raw = json.loads(text)
            phase, next_url = raw["phase"], raw["next"]
            total = raw.get("total")
            if phase not in (PURCHASES, REFUNDS, DONE) or not isinstance(next_url, str | None):
                raise ValueError(phase)
            return cls(phase, next_url, int(raw["found"]), int(raw["pages"]), total if isinstance(total, int) else None)
        except (ValueError, KeyError, TypeError):
            log.warning("kajabi sync cursor unreadable; reading from the start")
            return cls()


def _next_url(document: Mapping[str, Any]) -> str | None:
    next_url = (document.get("links") or {}).get("next")
    return next_url if isinstance(next_url, str) and next_url else None


def _record_id(record: PlatformRecord) -> str:
    return record.platform_purchase_id if isinstance(record, PurchaseRecord) else record.platform_refund_id


class KajabiPlatform(PlatformAdapter):
    name: ClassVar[str] = PLATFORM
    display_name: ClassVar[str] = "Kajabi"
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("client_id", "Client ID", help=KEY_HELP),
        CredentialField(
            "client_secret", "Client secret", help="Shown next to the client ID of the same key.", secret=True
        ),
    )
    webhook_auth: ClassVar[WebhookAuth] = WebhookAuth.URL_TOKEN

    def __init__(
        self, api_url: str = DEFAULT_API_URL, http: RetryingHttp | None = None, page_size: int = PAGE_SIZE
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._http = http or RetryingHttp(self.display_name)
        self._page_size = page_size

    def _client(self, credentials: Credentials) -> KajabiClient:
        return KajabiClient(self._api_url, credentials, self._http, self._page_size)

    # ---- connect ---------------------------------------------------------------------------------
    def check_credentials(self, credentials: Credentials) -> ConnectionCheck:
        """Token, then /v1/me (plan), /v1/sites (the choice), then one row of purchases and of
        transactions (the permissions the sync needs): the first problem found is the message."""
        client = self._client(credentials)
        try:
            client.authenticate()
            client.get("/v1/me")
            sites = [site for document in client.pages("/v1/sites", {}) for site in document.get("data") or ()]
            if not sites:
                return ConnectionCheck(False, "This Kajabi account has no site yet; create one in Kajabi first.")
            for path in ("/v1/purchases", "/v1/transactions"):
                client.get(path, {"page[size]": "1", "filter[site_id]": str(sites[0].get("id"))})
        except PlatformUnavailable:
            return ConnectionCheck(
                False, "Kajabi could not be reached just now. Nothing was saved; try again in a few minutes."
            )
        except PlatformError as error:
            return ConnectionCheck(False, str(error))
        choices = tuple(
            ConnectChoice(id=str(site["id"]), label=str((site.get("attributes") or {}).get("title") or site["id"]))
            for site in sites
        )
        return ConnectionCheck(True, choices=choices, choice_field="site_id")

    # ---- sync ------------------------------------------------------------------------------------
    def fetch_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        """Purchases since `since` (newest first, with customer and offer), then the refund
        transactions since then. Pages are followed by `links.next`; reading stops at the window's edge
        even where Kajabi ignores a filter. After each page, the checkpoint names the next page's URL."""
        return self._read(credentials, since, progress, SyncCursor())

    def resume_purchases(
        self, credentials: Credentials, since: datetime, progress: SyncProgress, cursor: str
    ) -> Iterator[PlatformRecord]:
        return self._read(credentials, since, progress, SyncCursor.load(cursor))

    def _read(
        self, credentials: Credentials, since: datetime, progress: SyncProgress, at: SyncCursor
    ) -> Iterator[PlatformRecord]:
        client = self._client(credentials)
        if at.next_url is not None and not client.owns(at.next_url):
            log.warning("kajabi sync cursor points outside %s; reading the %s again", self._api_url, at.phase)
            at = replace(at, next_url=None)
        site = {"filter[site_id]": credentials["site_id"]} if credentials.get("site_id") else {}
        if at.phase == PURCHASES:
            purchase_query = {
                **site,
                "filter[created_at_gte]": since.isoformat(),
                "sort": "-created_at",
                "include": "customer,offer",
            }
            documents = client.pages_from(at.next_url) if at.next_url else client.pages("/v1/purchases", purchase_query)
            for document in documents:
                total = (document.get("meta") or {}).get("total_count", at.total)
                index = index_resources(document.get("included") or ())
                older = False
                found = at.found
                for resource in document.get("data") or ():
                    record = self._readable(purchase_record, resource, index)
                    if record is None:
                        continue
                    if record.purchased_at < since:
                        older = True
                        continue
                    found += 1
                    yield record
                next_url = None if older else _next_url(document)
                at = SyncCursor(
                    PURCHASES if next_url else REFUNDS,
                    next_url,
                    found=found,
                    pages=at.pages + 1,
                    total=total if isinstance(total, int) else None,
                )
                progress(at.found, at.total, pages=at.pages, cursor=at.dump())
                if next_url is None:
                    break
            else:  # Kajabi answered no page at all: carry on with the refunds
                at = replace(at, phase=REFUNDS, next_url=None)
        if at.phase != REFUNDS:
            return
        # filter[start_date] is a site-local date: start a day early, then drop what is older. Where Kajabi
        # ignores the generic action filter, every transaction comes back and refunds are picked out here.
        start = (since - timedelta(days=1)).date().isoformat()
        refunds_query = {**site, "filter[start_date]": start, "filter[action_eq]": "refund", "sort": "-created_at"}
        documents = client.pages_from(at.next_url) if at.next_url else client.pages("/v1/transactions", refunds_query)
        for document in documents:
            older = False
            for resource in document.get("data") or ():
                if not is_refund(resource):
                    older = older or self._older(resource, since)
                    continue
                refund = self._readable(lambda r, _: refund_record(r), resource, {})
                if refund is None:
                    continue
                if refund.refunded_at < since:
                    older = True
                    continue
                yield refund
            next_url = None if older else _next_url(document)
            at = replace(at, phase=REFUNDS if next_url else DONE, next_url=next_url, pages=at.pages + 1)
            progress(at.found, at.total, pages=at.pages, cursor=at.dump())
            if next_url is None:
                break

    @staticmethod
    def _older(resource: Mapping[str, Any], since: datetime) -> bool:
        try:
            return parse_time((resource.get("attributes") or {}).get("created_at")) < since
        except UnreadableResource:
            return False

    @staticmethod
    def _readable(read: Any, resource: Any, index: Any) -> Any:
        try:
            return read(resource, index)
        except UnreadableResource as error:
            log.warning("kajabi %s %s skipped: %s", resource.get("type"), resource.get("id"), error)
            return None

    # ---- webhooks --------------------------------------------------------------------------------
    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        """`{"id", "event", "payload": [resources]}`. Kajabi signs nothing: the URL token was checked
        before this is called, and `confirm_records` re-reads every purchase before it counts."""
        try:
            body = json.loads(delivery.body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected("The body is not JSON.") from None
        except RecursionError:
            raise WebhookRejected("The body is nested too deeply.") from None
        if not isinstance(body, dict) or not isinstance(body.get("event"), str) or not body.get("id"):
            raise WebhookRejected("Not a Kajabi hook delivery (no id or event).")
        payload = body.get("payload")
        if not isinstance(payload, list):
            raise WebhookRejected("A Kajabi hook delivery without a payload list.")
        event = body["event"]
        event_id = f"{event}:{body['id']}"
        if event not in HOOK_EVENTS:
            return WebhookBatch(event_id=event_id)
        index = index_resources(payload)
        records = []
        for resource in payload:
            if isinstance(resource, Mapping) and resource.get("type") == "purchases":
                try:
                    records.append(purchase_record(resource, index))
                except UnreadableResource as error:
                    raise WebhookRejected(f"An unreadable purchase: {error}.") from None
        return WebhookBatch(event_id=event_id, records=tuple(records))

    def confirm_records(self, credentials: Credentials, records: Sequence[PlatformRecord]) -> Sequence[PlatformRecord]:
        client = self._client(credentials)
        confirmed: list[PlatformRecord] = []
        for record in records:
            found: PlatformRecord | None = None
            if isinstance(record, PurchaseRecord):
                document = client.find(f"/v1/purchases/{record.platform_purchase_id}", {"include": "customer,offer"})
                if document is not None:
                    included = index_resources(document.get("included") or ())
                    found = self._readable(purchase_record, document.get("data") or {}, included)
            else:
                document = client.find(f"/v1/transactions/{record.platform_refund_id}")
                resource = (document or {}).get("data") or {}
                if is_refund(resource):
                    found = self._readable(lambda r, _: refund_record(r), resource, {})
            if found is None:
                log.warning("kajabi record %s from a webhook is not confirmed by the API", _record_id(record))
            if found is not None:
                confirmed.append(found)
        return confirmed

    def register_webhooks(self, credentials: Credentials, target_url: str) -> tuple[str, ...]:
        client = self._client(credentials)
        ids = []
        for event in HOOK_EVENTS:
            body = {
                "data": {
                    "type": "hooks",
                    "attributes": {"target_url": target_url, "event": event},
                    "relationships": {"site": {"data": {"type": "sites", "id": credentials["site_id"]}}},
                }
            }
            ids.append(self._create_hook(client, body))
        return tuple(ids)

    @staticmethod
    def _create_hook(client: KajabiClient, body: dict[str, Any]) -> str:
        for prefix in HOOK_PREFIXES:
            response = client.request("POST", prefix, json=body, headers={"Content-Type": "application/vnd.api+json"})
            if response.status_code == 404:
                continue
            if response.status_code >= 400:
                log.warning("kajabi refused a hook: %s %s", response.status_code, response.text[:500])
                raise PlatformError(
                    "Kajabi did not accept CourseSignal's webhook. Check that your plan includes webhooks "
                    "(Growth or Pro) and try again."
                )
            return str(response.json()["data"]["id"])
        raise PlatformError("Kajabi has no webhook endpoint for this account; try again later.")

    def remove_webhooks(self, credentials: Credentials, webhook_ids: Sequence[str]) -> None:
        client = self._client(credentials)
        for hook_id in webhook_ids:
            for prefix in HOOK_PREFIXES:
                response = client.request("DELETE", f"{prefix}/{hook_id}")
                if response.status_code in (200, 204):
                    break
