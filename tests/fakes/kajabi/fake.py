"""`FakeKajabi`: a local, stateful stand-in for ``https://api.kajabi.com`` driven from Python.

Start it as a context manager; it serves the Public API on ``127.0.0.1:<free port>`` and exposes
``base_url``. Tests seed data, inject faults and push webhooks through the methods below, then
assert on ``requests`` (what the app sent) and ``deliveries`` (what the fake posted to the app).
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs

from tests.fakes.background_server import BackgroundServer

from .auth import ApiKey, AuthRegistry
from .jsonapi import error_document
from .models import (
    CURRENCY_SYMBOLS,
    Customer,
    Hook,
    JsonDict,
    Offer,
    Purchase,
    Site,
    Transaction,
    format_money,
    format_time,
    identifier,
)
from .seed import generate_purchases
from .server import KajabiHTTPServer, Request, Response
from .store import HOOK_EVENT_SCOPES, Store

#: Events whose payloads this fake can build for :meth:`FakeKajabi.deliver`.
DELIVERABLE_EVENTS = ("purchase", "payment_succeeded", "order_created")


@dataclass
class LoggedRequest:
    """One request the fake received (``status`` is what it answered)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0

    def param(self, name: str) -> str | None:
        """First value of a query parameter, e.g. ``param("filter[site_id]")``."""
        values = self.query.get(name)
        return values[0] if values else None

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}


@dataclass
class Delivery:
    """One webhook POST made to the app."""

    hook_id: str
    target_url: str
    event: str
    body: JsonDict
    status: int  # 0 when the app could not be reached
    response_body: bytes = b""
    error: str | None = None


@dataclass
class _Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class FakeKajabi(BackgroundServer):
    """A fake Kajabi account + Public API server.

    Mirrors Kajabi's documented wire format (see the package docstring); knobs that model undocumented
    behaviour are plain attributes so a test can flip them:

    * ``public_api_enabled`` - False models a plan without the Public API (403 after the token);
    * ``hooks_prefixes`` - which of ``/v1`` and ``/api/v1`` serve the hooks endpoints (docs disagree);
    * ``default_page_size`` / ``max_page_size`` - ``page[size]`` default and clamp;
    * ``plain_page_param_500`` - ``?page=N`` answers 500 (observed by third parties, unconfirmed);
    * ``default_purchase_sort`` - order of `/v1/purchases` without ``sort`` (transactions: newest first);
    * ``read_delay`` - seconds every GET waits before it is answered (a slow Kajabi: a sync takes a while).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str | None = None,
        client_secret: str | None = None,
        scopes: set[str] | frozenset[str] | None = None,
        token_lifetime: int = 7200,
        default_page_size: int = 25,
        max_page_size: int = 100,
        verbose: bool = False,
    ) -> None:
        super().__init__(host, port)
        self.lock = threading.RLock()
        self._clock_offset = 0.0
        self.auth = AuthRegistry(clock=self._clock, token_lifetime=token_lifetime)
        self.store = Store(now=self.now)
        self.key: ApiKey = self.auth.create_key(scopes, client_id=client_id, client_secret=client_secret)
        self.public_api_enabled = True
        self.hooks_prefixes: set[str] = {"/v1", "/api/v1"}
        self.default_page_size = default_page_size
        self.max_page_size = max_page_size
        self.plain_page_param_500 = True
        self.default_purchase_sort = "-created_at"
        self.delivery_timeout = 5.0
        self.read_delay = 0.0
        self.verbose = verbose
        self.requests: list[LoggedRequest] = []
        self.deliveries: list[Delivery] = []
        self._faults: deque[_Fault] = deque()

    thread_name = "fake-kajabi"

    def _make_server(self, address: tuple[str, int]) -> KajabiHTTPServer:
        return KajabiHTTPServer(address, self)

    # ---- clock -----------------------------------------------------------------------------------
    def _clock(self) -> float:
        return time.time() + self._clock_offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def advance_clock(self, seconds: float) -> None:
        """Move the fake's clock forward (token expiry, default timestamps)."""
        with self.lock:
            self._clock_offset += seconds

    # ---- credentials (developers.kajabi.com/api-reference/authentication) -------------------------
    @property
    def client_id(self) -> str:
        return self.key.client_id

    @property
    def client_secret(self) -> str:
        return self.key.client_secret

    def credentials(self) -> dict[str, str]:
        """What a creator pastes into CourseSignal's Kajabi form for the fake's API key."""
        return {"client_id": self.key.client_id, "client_secret": self.key.client_secret}

    @property
    def token_lifetime(self) -> int:
        """``expires_in`` of new access tokens, in seconds (Kajabi's real value is undocumented)."""
        return self.auth.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: int) -> None:
        with self.lock:
            self.auth.token_lifetime = seconds

    def create_key(self, scopes: set[str] | frozenset[str] | None = None, *, name: str = "Limited key") -> ApiKey:
        """Another User API Key, e.g. ``create_key({"view:transactions"})`` without ``view:purchases``."""
        with self.lock:
            return self.auth.create_key(scopes, name=name)

    def set_scopes(self, scopes: set[str] | frozenset[str], client_id: str | None = None) -> None:
        """Change a key's permissions in place (affects existing tokens immediately)."""
        with self.lock:
            self.auth.keys[client_id or self.key.client_id].scopes = frozenset(scopes)

    def rotate_secret(self, client_id: str | None = None) -> str:
        """Dashboard "Rotate": returns the new secret; all tokens of the key get 401 from now on."""
        with self.lock:
            return self.auth.rotate_secret(client_id or self.key.client_id)

    def revoke_key(self, client_id: str | None = None) -> None:
        """Dashboard "Delete": the credentials fail with ``invalid_client``; tokens get 401."""
        with self.lock:
            self.auth.delete_key(client_id or self.key.client_id)

    def expire_tokens(self) -> int:
        """Make every live access token expire now (the app must refresh); returns how many."""
        with self.lock:
            return self.auth.expire_access_tokens()

    def issue_token(self, client_id: str | None = None) -> str:
        """An access token without an HTTP round-trip (for tests that don't exercise OAuth)."""
        with self.lock:
            key = self.auth.keys[client_id or self.key.client_id]
            pair = self.auth.grant(
                {"grant_type": "client_credentials", "client_id": key.client_id, "client_secret": key.client_secret}
            )
            return pair.access_token

    # ---- faults ----------------------------------------------------------------------------------
    def throttle_next(self, n: int = 1, retry_after: int = 1) -> None:
        """The next ``n`` requests (any endpoint) answer 429 with ``Retry-After``."""
        with self.lock:
            self._faults.extend(_Fault(429, {"Retry-After": str(retry_after)}) for _ in range(n))

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """The next ``n`` requests (any endpoint) answer ``status`` (500 by default)."""
        with self.lock:
            self._faults.extend(_Fault(status) for _ in range(n))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def pop_fault(self) -> Response | None:
        """Used by the server: the next pending fault as a response, if any."""
        with self.lock:
            if not self._faults:
                return None
            fault = self._faults.popleft()
        titles = {
            429: "Too Many Requests",
            500: "Internal Server Error",
            502: "Bad Gateway",
            503: "Service Unavailable",
            504: "Gateway Timeout",
        }
        title = titles.get(fault.status, "Error")
        return Response(fault.status, error_document(fault.status, title), headers=dict(fault.headers))

    # ---- request log -----------------------------------------------------------------------------
    def log_request(self, req: Request) -> LoggedRequest:
        entry = LoggedRequest(req.method, req.path, req.raw_query, req.headers, req.body)
        with self.lock:
            self.requests.append(entry)
        return entry

    def requests_to(self, path: str, method: str | None = None) -> list[LoggedRequest]:
        """Logged requests for one path (e.g. ``"/v1/purchases"``), optionally one method."""
        with self.lock:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    def clear_log(self) -> None:
        with self.lock:
            self.requests.clear()
            self.deliveries.clear()

    # ---- data ------------------------------------------------------------------------------------
    def add_site(self, title: str = "My Kajabi Site", *, subdomain: str | None = None, utc_offset: str = "Z") -> Site:
        """A site; ``utc_offset="-05:00"`` makes its timestamps serialise site-local."""
        with self.lock:
            return self.store.add_site(title, subdomain=subdomain, utc_offset=utc_offset)

    def add_offer(
        self,
        title: str,
        price_in_cents: int,
        currency: str = "USD",
        *,
        site: Site | str | None = None,
        payment_type: str = "single",
    ) -> Offer:
        """An offer on ``site`` (the first site, created on demand, by default)."""
        with self.lock:
            return self.store.add_offer(title, price_in_cents, currency, site=site, payment_type=payment_type)

    def add_customer(
        self, email: str, name: str, *, site: Site | str | None = None, created_at: datetime | str | None = None
    ) -> Customer:
        with self.lock:
            return self.store.add_customer(email, name, site=site, created_at=created_at)

    def add_purchase(
        self,
        customer: Customer | str,
        offer: Offer | str,
        amount_in_cents: int | None = None,
        currency: str | None = None,
        created_at: datetime | str | None = None,
        source: str | None = None,
        referrer: str | None = None,
        *,
        coupon_code: str | None = None,
        quantity: int = 1,
    ) -> Purchase:
        """A purchase (defaults: offer price and currency, now) and its ``charge`` transaction."""
        with self.lock:
            return self.store.add_purchase(
                customer,
                offer,
                amount_in_cents,
                currency,
                created_at,
                source,
                referrer,
                coupon_code=coupon_code,
                quantity=quantity,
            )

    def refund(
        self, purchase: Purchase | str, amount_in_cents: int | None = None, created_at: datetime | str | None = None
    ) -> Transaction:
        """A ``refund`` transaction (negative amount; full refund when ``amount_in_cents`` is None)."""
        with self.lock:
            return self.store.refund(purchase, amount_in_cents, created_at)

    def add_hook(
        self,
        target_url: str,
        event: str = "purchase",
        *,
        site: Site | str | None = None,
        resource_id: str | None = None,
    ) -> Hook:
        """Register a hook directly, as if the app had called `POST /v1/hooks`."""
        if event not in HOOK_EVENT_SCOPES:
            raise ValueError(f"unknown hook event {event!r}")
        with self.lock:
            return self.store.add_hook(self.store.site(site), target_url, event, resource_id)

    def seed_random(self, n: int, days: int = 30, seed: int | None = None) -> list[Purchase]:
        """``n`` realistic purchases over the last ``days`` days (offers, repeat customers, coupons,
        referrers, ~6 % refunds). Creates a ``-05:00`` site and a catalogue when missing."""
        with self.lock:
            return generate_purchases(self.store, n, days=days, rng=random.Random(seed), now=self.now())

    @property
    def purchases(self) -> list[Purchase]:
        with self.lock:
            return list(self.store.purchases.values())

    @property
    def transactions(self) -> list[Transaction]:
        with self.lock:
            return list(self.store.transactions.values())

    @property
    def hooks(self) -> list[Hook]:
        with self.lock:
            return list(self.store.hooks.values())

    # ---- webhooks (spec `POST /v1/hooks` "Actual Payloads" + `/v1/hooks/*_sample`) -----------------
    def webhook_body(self, event: str, resource: Purchase | Transaction | str) -> JsonDict:
        """``{"id": <hash id>, "event": event, "payload": [...]}`` for one purchase/transaction.

        The id is a stable hash of (event, resource): redelivering the same event repeats it, so the
        app's de-duplication can be tested.
        """
        with self.lock:
            purchase, txn = self._resolve_event_resource(event, resource)
            payload = self._payload(event, purchase, txn, self._public_base())
            trigger = txn if event != "purchase" and txn is not None else purchase
            hash_id = hashlib.sha1(f"{event}:{trigger.id}".encode()).hexdigest()[:20]  # noqa: S324 - not security
            return {"id": hash_id, "event": event, "payload": payload}

    def deliver(self, event: str, resource: Purchase | Transaction | str) -> list[int]:
        """POST the event to every registered hook for ``event`` on the resource's site and return the
        HTTP status of each answer (0 = unreachable). Hooks with a ``resource_id`` only fire for that
        offer (or purchase) id. Each attempt is appended to ``deliveries``."""
        with self.lock:
            body = self.webhook_body(event, resource)
            purchase, _ = self._resolve_event_resource(event, resource)
            targets = [
                h
                for h in self.store.hooks.values()
                if h.event == event
                and h.site is purchase.site
                and (h.resource_id is None or h.resource_id in (purchase.offer.id, purchase.id))
            ]
        # Outside the lock: the app may call back into the API while handling the webhook.
        return [self._post(hook, body) for hook in targets]

    def deliver_all(self, event: str = "purchase") -> list[int]:
        """:meth:`deliver` for every purchase (``purchase``) or charge transaction (other events), oldest first."""
        with self.lock:
            if event == "purchase":
                resources: list[Purchase | Transaction] = sorted(
                    self.store.purchases.values(), key=lambda p: p.created_at
                )
            else:
                resources = sorted(
                    (t for t in self.store.transactions.values() if t.action == "charge"), key=lambda t: t.created_at
                )
        statuses: list[int] = []
        for resource in resources:
            statuses.extend(self.deliver(event, resource))
        return statuses

    def sample_payload(self, event: str) -> list[JsonDict] | None:
        """What `GET /v1/hooks/<event>_sample` returns: the payload built from id-"0" placeholders."""
        if event not in DELIVERABLE_EVENTS:
            return None
        now = self.now()
        site = next(iter(self.store.sites.values()), None) or Site("2", "Sample Site", "sample", UTC, now)
        offer = Offer("0", site, "Kajabi Test Offer", 1000, "USD", "n8NtoHUZ", now)
        customer = Customer("0", site, "John Doe", "john.doe@example.com", now)
        purchase = Purchase("0", site, customer, offer, 1000, "USD", now)
        txn = Transaction("0", site, customer, [purchase], "charge", 1000, "USD", now)
        return self._payload(event, purchase, txn, self._public_base())

    def _public_base(self) -> str:
        return self.base_url if self.running else "https://api.kajabi.com"

    def _resolve_event_resource(
        self, event: str, resource: Purchase | Transaction | str
    ) -> tuple[Purchase, Transaction | None]:
        if event not in DELIVERABLE_EVENTS:
            raise ValueError(f"deliver() supports {DELIVERABLE_EVENTS}, not {event!r}")
        if isinstance(resource, Transaction) or (isinstance(resource, str) and resource in self.store.transactions):
            txn = self.store.transaction(resource)
            return txn.purchases[0], txn
        purchase = self.store.purchase(resource)
        charge = next((t for t in purchase.transactions if t.action == "charge"), None)
        if event != "purchase" and charge is None:
            raise ValueError(f"purchase {purchase.id} has no charge transaction (free?)")
        return purchase, charge

    def _payload(self, event: str, purchase: Purchase, txn: Transaction | None, base: str) -> list[JsonDict]:
        customer = purchase.customer.to_resource(base)
        if event == "purchase":
            return [purchase.to_resource(for_webhook=True), purchase.offer.to_resource(), customer]
        assert txn is not None
        payload = [txn.to_resource(for_webhook=True), customer]
        if event == "order_created":
            payload.extend(self._order_resources(txn))
        return payload

    def _order_resources(self, txn: Transaction) -> list[JsonDict]:
        """`orders` + `order_items` resources as in the order_created sample (one item per purchase)."""
        tz, cur = txn.site.tz, txn.currency
        symbol = CURRENCY_SYMBOLS.get(cur, "")
        total, tax = txn.amount_in_cents, txn.sales_tax_in_cents
        number = self.store.order_number(txn) if txn.id != "0" else 0

        def money(total_cents: int, tax_cents: int) -> JsonDict:
            return {
                "total_price_in_cents": total_cents,
                "subtotal_in_cents": total_cents - tax_cents,
                "sales_tax_amount_in_cents": tax_cents,
                "discount_amount_in_cents": 0,
                "formatted_total_price": format_money(total_cents, cur),
                "formatted_subtotal": format_money(total_cents - tax_cents, cur),
                "currency_symbol": symbol,
            }

        order = {
            "id": txn.id,
            "type": "orders",
            "attributes": {
                "order_number": number,
                "currency_code": cur,
                "fulfilled_at": None,
                "created_at": format_time(txn.created_at, tz),
                **money(total, tax),
            },
            "relationships": {
                "site": {"data": identifier("sites", txn.site.id)},
                "customer": {"data": identifier("customers", txn.customer.id)},
                "order_items": {"data": [identifier("order_items", p.id) for p in txn.purchases]},
                "payment_transactions": {"data": [identifier("transactions", txn.id)]},
            },
        }
        items = [
            {
                "id": p.id,
                "type": "order_items",
                "attributes": {
                    "quantity": p.quantity,
                    "currency_code": cur,
                    "item_type": "Offer",
                    "item_id": int(p.offer.id),
                    "title": p.offer.title,
                    "fulfilled_at": None,
                    "created_at": format_time(p.created_at, tz),
                    **money(p.amount_in_cents, 0),
                },
                "relationships": {"order": {"data": identifier("orders", txn.id)}},
            }
            for p in txn.purchases
        ]
        return [order, *items]

    def _post(self, hook: Hook, body: JsonDict) -> int:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Kajabi-Webhooks (fake)"}
        # Hook URLs were validated as http(s) when registered.
        request = urllib.request.Request(hook.target_url, data=data, method="POST", headers=headers)  # noqa: S310
        delivery = Delivery(hook.id, hook.target_url, body["event"], body, status=0)
        try:
            with urllib.request.urlopen(request, timeout=self.delivery_timeout) as answer:  # noqa: S310 - http(s) hook URLs
                delivery.status, delivery.response_body = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            delivery.status, delivery.response_body = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            delivery.error = repr(exc)
        with self.lock:
            self.deliveries.append(delivery)
        return delivery.status

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"<FakeKajabi {where} purchases={len(self.store.purchases)} hooks={len(self.store.hooks)}>"
