"""HTTP layer of the fake: routing, bearer auth, permissions, faults and JSON:API responses.

Order of checks for each request, mirroring what a client of ``https://api.kajabi.com`` can observe:

1. injected faults (429 with ``Retry-After`` / 5xx) answer before anything else, like an edge rate limiter;
2. ``POST /v1/oauth/token`` needs no bearer (form-encoded, answers ``application/json``);
3. every other endpoint needs ``Authorization: Bearer <access_token>`` → 401 ``errors_unauthorized``;
4. a plan without the Public API → 403 on everything after the token;
5. a key lacking the endpoint's permission scope → 403 ``errors_forbidden``;
6. unknown ids → 404 ``errors_not_found``; invalid hook bodies → 422 ``errors_unprocessable``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .auth import ApiKey, OAuthError
from .jsonapi import JSON_API, ListQuery, Row, apply_filters, apply_sort, error_document, list_document, sparse
from .models import JsonDict, Transaction, local_date_of
from .store import HOOK_EVENT_SCOPES, serialize

if TYPE_CHECKING:
    from .fake import FakeKajabi


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    raw_query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    base_url: str
    key: ApiKey | None = None
    params: dict[str, str] = field(default_factory=dict)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True).items()}

    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[7:].strip() if value[:7].lower() == "bearer " else None


@dataclass
class Response:
    """A status, a JSON (or empty) body and extra headers."""

    status: int
    body: Any = None
    content_type: str = JSON_API
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


def _error(status: int, title: str, detail: str | None = None, pointer: str | None = None) -> Response:
    return Response(status, error_document(status, title, detail, pointer))


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler_name: str
    scope: str | None = None  # permission scope the key needs
    public: bool = False  # no bearer needed
    hooks: bool = False  # path is relative to /v1 or /api/v1 (the docs disagree on which one)


def _route(method: str, path: str, handler: str, **options: Any) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Route(method, re.compile(f"^{regex}$"), handler, **options)


#: The documented endpoints this fake serves. Scope names for customers are an assumption
#: (Kajabi documents only view:purchases/transactions/orders/form_submissions/contacts).
ROUTES: tuple[Route, ...] = (
    _route("POST", "/v1/oauth/token", "token", public=True),
    _route("POST", "/v1/oauth/revoke", "revoke"),
    _route("GET", "/v1/version", "version", public=True),
    _route("GET", "/v1/me", "me"),
    _route("GET", "/v1/sites", "list_sites"),
    _route("GET", "/v1/sites/{id}", "show_site"),
    _route("GET", "/v1/offers", "list_offers"),
    _route("GET", "/v1/offers/{id}", "show_offer"),
    _route("GET", "/v1/customers", "list_customers", scope="view:contacts"),
    _route("GET", "/v1/customers/{id}", "show_customer", scope="view:contacts"),
    _route("GET", "/v1/purchases", "list_purchases", scope="view:purchases"),
    _route("GET", "/v1/purchases/{id}", "show_purchase", scope="view:purchases"),
    _route("GET", "/v1/transactions", "list_transactions", scope="view:transactions"),
    _route("GET", "/v1/transactions/{id}", "show_transaction", scope="view:transactions"),
    _route("GET", "/hooks", "list_hooks", hooks=True),
    _route("POST", "/hooks", "create_hook", hooks=True),
    _route("GET", "/hooks/{event}_sample", "hook_sample", hooks=True),
    _route("GET", "/hooks/{id}", "show_hook", hooks=True),
    _route("DELETE", "/hooks/{id}", "delete_hook", hooks=True),
)


class Api:
    """Answers requests against a :class:`FakeKajabi`'s state. One instance per server."""

    def __init__(self, fake: FakeKajabi) -> None:
        self.fake = fake

    # ---- dispatch --------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        fake = self.fake
        if fake.read_delay and req.method == "GET":
            time.sleep(fake.read_delay)  # outside the lock: a slow Kajabi, not a stuck one
        with fake.lock:
            fault = fake.pop_fault()
            if fault is not None:
                return fault
            if "page" in req.query and fake.plain_page_param_500:
                # Observed by third-party code (UNCONFIRMED): `?page=N` instead of `page[number]` → 500.
                return _error(500, "Internal Server Error")
            route, params = self._match(req)
            if route is None:
                return _error(404, "Not Found", f"No route matches {req.method} {req.path}")
            req.params = params
            if not route.public:
                token = req.bearer()
                key = fake.auth.authenticate(token) if token else None
                if key is None:
                    denied = _error(401, "Unauthorized", "Access token is missing, invalid or expired")
                    denied.headers["WWW-Authenticate"] = 'Bearer realm="Kajabi", error="invalid_token"'
                    return denied
                req.key = key
                if route.handler_name != "revoke":
                    if not fake.public_api_enabled:
                        return _error(403, "Forbidden", "The Public API is not available on this account's plan")
                    if route.scope and route.scope not in key.scopes:
                        return _error(403, "Forbidden", f"This API key lacks the {route.scope} permission")
            handler: Handler = getattr(self, route.handler_name)
            return handler(req)

    def _match(self, req: Request) -> tuple[Route | None, dict[str, str]]:
        for route in ROUTES:
            if route.method != req.method:
                continue
            path = req.path
            if route.hooks:
                prefix = next((p for p in ("/api/v1", "/v1") if path.startswith(p + "/")), None)
                if prefix is None or prefix not in self.fake.hooks_prefixes:
                    continue
                path = path[len(prefix) :]
            match = route.pattern.match(path)
            if match:
                return route, match.groupdict()
        return None, {}

    # ---- helpers ---------------------------------------------------------------------------------
    def _list(
        self,
        req: Request,
        records: list[Any],
        special: Mapping[str, Callable[[Any, str], bool]],
        default_sort: str | None = None,
        includable: bool = False,
    ) -> Response:
        lq = ListQuery.parse(req.query, default_size=self.fake.default_page_size, max_size=self.fake.max_page_size)
        rows = [Row(r, lambda record: serialize(record, req.base_url)) for r in records]
        rows = apply_sort(apply_filters(rows, lq.filters, special), lq.sort or default_sort)
        store = self.fake.store
        includer = (lambda recs, rels: store.included(recs, rels, req.base_url)) if includable else None
        return Response(
            200,
            list_document(
                rows, base_url=req.base_url, path=req.path, query=req.query, list_query=lq, includer=includer
            ),
        )

    def _show(self, req: Request, table: dict[str, Any], kind: str, includable: bool = False) -> Response:
        record = table.get(req.params["id"])
        if record is None:
            return _error(404, "Not Found", f"{kind} {req.params['id']} not found")
        lq = ListQuery.parse(req.query, default_size=1, max_size=1)
        document: JsonDict = {
            "data": sparse(serialize(record, req.base_url), lq.fields),
            "links": {"self": f"{req.base_url}{req.path}"},
        }
        if includable and lq.include:
            document["included"] = [
                sparse(r, lq.fields) for r in self.fake.store.included([record], lq.include, req.base_url)
            ]
        return Response(200, document)

    @staticmethod
    def _site_filter(record: Any, value: str) -> bool:
        return bool(record.site.id == value)

    # ---- OAuth -----------------------------------------------------------------------------------
    def token(self, req: Request) -> Response:
        try:
            pair = self.fake.auth.grant(req.form())
        except OAuthError as exc:
            return Response(exc.status, {"error": exc.code}, content_type="application/json")
        return Response(
            200,
            pair.to_response(self.fake.auth.clock()),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    def revoke(self, req: Request) -> Response:
        self.fake.auth.revoke(req.form().get("token", ""))
        return Response(200, None, content_type="application/json")

    # ---- simple resources ------------------------------------------------------------------------
    def version(self, req: Request) -> Response:
        return Response(
            200,
            {
                "meta": {"title": "Kajabi API V1 (fake)", "version": "1.1.0"},
                "links": {"documentation": "https://developers.kajabi.com"},
                "jsonapi": {"version": "1.0"},
            },
        )

    def me(self, req: Request) -> Response:
        key = req.key
        assert key is not None
        initials = "".join(part[0] for part in key.user_name.split()[:2]).upper()
        return Response(
            200,
            {
                "data": {
                    "id": key.client_id[:8],
                    "type": "users",
                    "attributes": {
                        "initials": initials,
                        "name": key.user_name,
                        "email": key.user_email,
                        "role_level": key.role_level,
                    },
                }
            },
        )

    def list_sites(self, req: Request) -> Response:
        return self._list(req, list(self.fake.store.sites.values()), {})

    def show_site(self, req: Request) -> Response:
        return self._show(req, self.fake.store.sites, "site")

    def list_offers(self, req: Request) -> Response:
        return self._list(req, list(self.fake.store.offers.values()), {"site_id": self._site_filter})

    def show_offer(self, req: Request) -> Response:
        return self._show(req, self.fake.store.offers, "offer")

    def list_customers(self, req: Request) -> Response:
        special = {
            "site_id": self._site_filter,
            "name_or_email": lambda c, v: v.lower() in c.name.lower() or v.lower() in c.email.lower(),
        }
        return self._list(req, list(self.fake.store.customers.values()), special, includable=True)

    def show_customer(self, req: Request) -> Response:
        return self._show(req, self.fake.store.customers, "customer", includable=True)

    # ---- purchases / transactions ----------------------------------------------------------------
    def list_purchases(self, req: Request) -> Response:
        def truthy(value: str) -> bool:
            return value.strip().lower() in ("true", "1", "t", "yes")

        special: dict[str, Callable[[Any, str], bool]] = {
            "site_id": self._site_filter,
            "customer_id": lambda p, v: p.customer.id == v,
            "active": lambda p, v: (p.deactivated_at is None) == truthy(v),
            "deactivated": lambda p, v: (p.deactivated_at is not None) == truthy(v),
            "referrer": lambda p, v: (p.referrer or "") == v,
        }
        return self._list(
            req,
            list(self.fake.store.purchases.values()),
            special,
            default_sort=self.fake.default_purchase_sort,
            includable=True,
        )

    def show_purchase(self, req: Request) -> Response:
        return self._show(req, self.fake.store.purchases, "purchase", includable=True)

    def list_transactions(self, req: Request) -> Response:
        def on_or_after(t: Transaction, v: str) -> bool:
            return str(local_date_of(t.created_at, t.site.tz)) >= v[:10]

        def on_or_before(t: Transaction, v: str) -> bool:
            return str(local_date_of(t.created_at, t.site.tz)) <= v[:10]

        def name_or_email(t: Transaction, v: str) -> bool:
            return v.lower() in t.customer.name.lower() or v.lower() in t.customer.email.lower()

        special: dict[str, Callable[[Any, str], bool]] = {
            "site_id": self._site_filter,
            "customer_id": lambda t, v: t.customer.id == v,
            "name_or_email": name_or_email,
            "start_date": on_or_after,
            "end_date": on_or_before,
        }
        # "completed financial activity … excluding test transactions, free purchases, failed attempts,
        # and pending transactions" (spec `/v1/transactions`).
        records = [
            t
            for t in self.fake.store.transactions.values()
            if t.state == "succeeded" and t.action not in ("test", "free_purchase")
        ]
        return self._list(req, records, special, default_sort="-created_at", includable=True)

    def show_transaction(self, req: Request) -> Response:
        return self._show(req, self.fake.store.transactions, "transaction", includable=True)

    # ---- hooks -----------------------------------------------------------------------------------
    def list_hooks(self, req: Request) -> Response:
        special: dict[str, Callable[[Any, str], bool]] = {"site_id": self._site_filter}
        return self._list(req, list(self.fake.store.hooks.values()), special)

    def show_hook(self, req: Request) -> Response:
        return self._show(req, self.fake.store.hooks, "hook")

    def delete_hook(self, req: Request) -> Response:
        if self.fake.store.hooks.pop(req.params["id"], None) is None:
            return _error(404, "Not Found", f"hook {req.params['id']} not found")
        return Response(204, None)

    def create_hook(self, req: Request) -> Response:
        try:
            body = json.loads(req.body or b"null")
        except ValueError:
            return _error(400, "Bad Request", "Request body is not valid JSON")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "hooks":
            return _error(422, "Unprocessable Entity", "data.type must be 'hooks'", "/data/type")
        attributes = data.get("attributes") or {}
        event = attributes.get("event")
        if event not in HOOK_EVENT_SCOPES:
            return _error(
                422,
                "Unprocessable Entity",
                f"event must be one of {', '.join(HOOK_EVENT_SCOPES)}",
                "/data/attributes/event",
            )
        assert req.key is not None
        missing = sorted(HOOK_EVENT_SCOPES[event] - req.key.scopes)
        if missing:
            return _error(403, "Forbidden", f"The {event} event requires the {', '.join(missing)} permission")
        target_url = attributes.get("target_url")
        if not isinstance(target_url, str) or not re.match(r"^https?://\S+$", target_url):
            return _error(
                422, "Unprocessable Entity", "target_url must be an http(s) URL", "/data/attributes/target_url"
            )
        site_ref = ((data.get("relationships") or {}).get("site") or {}).get("data") or {}
        site = self.fake.store.sites.get(str(site_ref.get("id", "")))
        if site is None:
            return _error(
                422,
                "Unprocessable Entity",
                "relationships.site must reference an existing site",
                "/data/relationships/site",
            )
        resource_id = attributes.get("resource_id")
        hook = self.fake.store.add_hook(site, target_url, event, None if resource_id is None else str(resource_id))
        return Response(201, {"data": hook.to_resource(), "links": {"self": f"{req.base_url}{req.path}/{hook.id}"}})

    def hook_sample(self, req: Request) -> Response:
        payload = self.fake.sample_payload(req.params["event"])
        if payload is None:
            return _error(404, "Not Found", f"no sample for {req.params['event']}")
        return Response(200, payload)


class _Handler(BaseHTTPRequestHandler):
    """Thin adapter from :mod:`http.server` to :class:`Api` (plus the request log)."""

    server: KajabiHTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY each keep-alive request waits ~40 ms
    # for the client's delayed ACK.
    disable_nagle_algorithm = True

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        raw_query = parse_qs(split.query, keep_blank_values=True)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        req = Request(
            method=self.command,
            path=split.path.rstrip("/") or "/",
            query={k: v[0] for k, v in raw_query.items()},
            raw_query=raw_query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"http://{host}",
        )
        entry = self.server.fake.log_request(req)
        try:
            response = self.server.api.handle(req)
        except Exception as exc:  # a bug in the fake must still answer, and be visible
            response = _error(500, "Internal Server Error", f"fake crashed: {exc!r}")
        entry.status = response.status
        payload = response.encoded()
        self.send_response(response.status)
        if payload or response.status != 204:
            self.send_header("Content-Type", response.content_type + "; charset=utf-8")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)


class KajabiHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one fake."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeKajabi) -> None:
        super().__init__(address, _Handler)
        self.fake = fake
        self.api = Api(fake)
