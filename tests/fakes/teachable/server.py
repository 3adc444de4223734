"""The HTTP side of the fake: routes of Teachable's Admin API v1 on a stdlib threading server."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .models import Course, JsonDict, PricingPlan, Transaction, User, WebhookEvent

if TYPE_CHECKING:
    from .fake import FakeTeachable

#: The two spellings of the transactions date filter (research §2.2): the OpenAPI file says
#: ``start``/``end``; the optio SDK sends ``start_date``/``end_date``. Key: the spelling's name.
DATE_SPELLINGS: dict[str, tuple[str, str]] = {"start": ("start", "end"), "start_date": ("start_date", "end_date")}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"message": message}, headers or {})


class BadParameter(ValueError):
    pass


def _int(query: dict[str, str], name: str, default: int | None = None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadParameter(f"{name} must be an integer") from None


def _bool(query: dict[str, str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    return raw.strip().lower() in ("true", "1", "t", "yes")


def _moment(query: dict[str, str], name: str) -> datetime | None:
    """An ISO 8601 date or date-time (a date means its midnight UTC; no offset means UTC)."""
    raw = query.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(f"{name} must be an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _plan_summary(plan: PricingPlan) -> JsonDict:
    return {k: v for k, v in plan.to_json().items() if k not in ("frequency", "description")}


class Api:
    """Route table and handlers; every handler runs under the fake's lock."""

    def __init__(self, fake: FakeTeachable) -> None:
        self.fake = fake
        self.routes: list[tuple[re.Pattern[str], Callable[[Request, re.Match[str]], Response]]] = [
            (re.compile(r"^/v1/transactions$"), self.list_transactions),
            (re.compile(r"^/v1/users$"), self.list_users),
            (re.compile(r"^/v1/users/(?P<id>[^/]+)$"), self.show_user),
            (re.compile(r"^/v1/courses$"), self.list_courses),
            (re.compile(r"^/v1/courses/(?P<id>[^/]+)$"), self.show_course),
            (re.compile(r"^/v1/pricing_plans$"), self.list_pricing_plans),
            (re.compile(r"^/v1/pricing_plans/(?P<id>[^/]+)$"), self.show_pricing_plan),
            (re.compile(r"^/v1/webhooks$"), self.list_webhooks),
            (re.compile(r"^/v1/webhooks/(?P<id>[^/]+)/events$"), self.list_webhook_events),
        ]

    def handle(self, req: Request) -> Response:
        fault = self.fake.pop_fault()
        if fault is not None:
            return fault
        # Teachable's docs spell the header `apiKey` and `apikey`: HTTP headers are case-insensitive.
        key = req.headers.get("apikey")
        if key is None or key not in self.fake.api_keys:
            return error(401, "Unauthorized: the apiKey header is missing or not a valid API key")
        if not self.fake.api_access:
            return error(403, "Forbidden: API access is not included in this school's plan")
        if req.method != "GET":
            return error(405, f"{req.method} is not supported on {req.path}")
        for pattern, handler in self.routes:
            match = pattern.match(req.path)
            if match:
                try:
                    with self.fake.lock:
                        return handler(req, match)
                except BadParameter as problem:
                    return error(400, str(problem))
        return error(404, f"No route matches {req.path}")

    # ---- helpers ---------------------------------------------------------------------------------
    def _page(self, req: Request, name: str, items: Sequence[Any], serialize: Callable[[Any], JsonDict]) -> Response:
        per = _int(req.query, "per", self.fake.default_per) or self.fake.default_per
        per = max(1, min(per, self.fake.max_per))
        page = max(1, _int(req.query, "page", 1) or 1)
        total = len(items)
        pages = (total + per - 1) // per
        chunk = items[(page - 1) * per : page * per]
        first = (page - 1) * per + 1 if chunk else 0
        meta = {
            "total": total,
            "page": page,
            "from": first,
            "to": first + len(chunk) - 1 if chunk else 0,
            "per_page": per,
            "number_of_pages": pages,
        }
        return Response(200, {name: [serialize(item) for item in chunk], "meta": meta})

    @staticmethod
    def _id(match: re.Match[str]) -> int | None:
        raw = match.group("id")
        return int(raw) if raw.isdigit() else None

    # ---- transactions ----------------------------------------------------------------------------
    def list_transactions(self, req: Request, _: re.Match[str]) -> Response:
        q = req.query
        rows: list[Transaction] = list(self.fake.store_transactions())
        user_id = _int(q, "user_id")
        plan_id = _int(q, "pricing_plan_id")
        course_id = _int(q, "course_id")
        affiliate_id = _int(q, "affiliate_id")
        fully_refunded = _bool(q, "is_fully_refunded")
        chargeback = _bool(q, "is_chargeback")
        if user_id is not None:
            rows = [t for t in rows if t.buyer.id == user_id]
        if plan_id is not None:
            rows = [t for t in rows if t.plan.id == plan_id]
        if course_id is not None:
            rows = [t for t in rows if t.plan.course.id == course_id]
        if affiliate_id is not None:
            rows = [t for t in rows if t.affiliate_id == affiliate_id]
        if fully_refunded is not None:
            rows = [t for t in rows if t.is_fully_refunded == fully_refunded]
        if chargeback is not None:
            rows = [t for t in rows if t.has_chargeback == chargeback]
        for spelling in sorted(self.fake.date_spellings):
            start_name, end_name = DATE_SPELLINGS[spelling]
            start, end = _moment(q, start_name), _moment(q, end_name)
            if start is not None:  # "(exclusive)"
                rows = [t for t in rows if t.created_at > start]
            if end is not None:  # "(inclusive)"
                rows = [t for t in rows if t.created_at <= end]
        rows.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return self._page(req, "transactions", rows, Transaction.to_json)

    # ---- users -----------------------------------------------------------------------------------
    def list_users(self, req: Request, _: re.Match[str]) -> Response:
        users = sorted(self.fake.users.values(), key=lambda u: u.id)
        email = req.query.get("email")
        if email:
            users = [u for u in users if u.email.lower() == email.strip().lower()]
        return self._page(req, "users", users, User.summary)

    def show_user(self, req: Request, match: re.Match[str]) -> Response:
        user = self.fake.users.get(self._id(match) or -1)
        if user is None:
            return error(404, "User not found")
        courses = [
            {
                "course_id": s.plan.course.id,
                "course_name": s.plan.course.name,
                "enrolled_at": s.created_at.isoformat(),
                "is_active_enrollment": True,
                "completed_at": None,
                "percent_complete": 0,
            }
            for s in self.fake.sales.values()
            if s.student is user
        ]
        return Response(200, user.to_json(courses))

    # ---- courses and pricing plans ---------------------------------------------------------------
    def list_courses(self, req: Request, _: re.Match[str]) -> Response:
        courses = sorted(self.fake.courses.values(), key=lambda c: c.id)
        return self._page(req, "courses", courses, Course.to_json)

    def show_course(self, req: Request, match: re.Match[str]) -> Response:
        course = self.fake.courses.get(self._id(match) or -1)
        if course is None:
            return error(404, "Course not found")
        return Response(200, {"course": {**course.to_json(), "lecture_sections": [], "author_bio": None}})

    def list_pricing_plans(self, req: Request, _: re.Match[str]) -> Response:
        plans = sorted(self.fake.pricing_plans.values(), key=lambda p: p.id)
        return self._page(req, "pricing_plans", plans, _plan_summary)

    def show_pricing_plan(self, req: Request, match: re.Match[str]) -> Response:
        plan = self.fake.pricing_plans.get(self._id(match) or -1)
        if plan is None:
            return error(404, "Pricing plan not found")
        return Response(200, {"pricing_plan": plan.to_json()})

    # ---- webhooks (read-only: the creator adds them in the dashboard) -----------------------------
    def list_webhooks(self, req: Request, _: re.Match[str]) -> Response:
        # Not paginated, and deleted webhooks stay listed (optio, observed from the live API).
        return Response(200, {"webhooks": [w.to_json() for w in self.fake.webhooks.values()]})

    def list_webhook_events(self, req: Request, match: re.Match[str]) -> Response:
        webhook_id = self._id(match)
        if webhook_id not in self.fake.webhooks:
            return error(404, "Webhook not found")
        events = [e for e in self.fake.webhook_events if e.webhook.id == webhook_id]
        return self._page(req, "events", events[::-1], WebhookEvent.to_json)


class _Handler(BaseHTTPRequestHandler):
    server: TeachableHTTPServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm meets the client's
        # delayed ACK on a kept-alive connection and every answer waits ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        req = Request(
            method=self.command,
            path=split.path.rstrip("/") or "/",
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        entry = self.server.fake.log_request(req)
        try:
            response = self.server.api.handle(req)
        except Exception as crash:  # a bug in the fake must still answer, and be visible
            response = error(500, f"fake crashed: {crash!r}")
        entry.status = response.status
        payload = response.encoded()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)


class TeachableHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeTeachable) -> None:
        super().__init__(address, _Handler)
        self.fake = fake
        self.api = Api(fake)
