"""`FakeTeachable`: a local, stateful stand-in for ``https://developers.teachable.com`` driven from Python.

Start it as a context manager; it serves the Admin API v1 on ``127.0.0.1:<free port>`` and exposes
``base_url`` and ``api_url`` (``base_url + "/v1"``, where the app would use
``https://developers.teachable.com/v1``). Tests seed a school, inject faults, push webhooks through
:meth:`FakeTeachable.deliver`, then assert on ``requests`` (what the app asked) and ``deliveries``.

Webhook bodies. Teachable does not document them (research §2.6: community receivers read
``body.type`` and an ``object``). This fake sends, for one event::

    {"id": <webhook event id, int>, "type": "Transaction.created", "created": "<ISO 8601 UTC>",
     "object": {...}}

where ``object`` is the transaction as ``GET /v1/transactions`` lists it plus ``user`` {id, email, name},
``course`` {id, name} and ``pricing_plan`` {id, name} (Transaction.created / Transaction.refunded), or the
sale {id, created_at, user (the student), buyer, course, pricing_plan, transaction_id, is_gift}
(Sale.created). With ``as_array=True`` the body is a JSON array of such events, the dashboard's
"send data as a JSON array" payload setting. The event id is also listed under
``GET /v1/webhooks/{id}/events``.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.fakes.background_server import BackgroundServer

from .models import Course, JsonDict, PricingPlan, Sale, Transaction, User, Webhook, WebhookEvent, format_time
from .server import DATE_SPELLINGS, Request, Response, TeachableHTTPServer, error

#: The events :meth:`FakeTeachable.deliver` can build (Teachable's names, research §2.5).
DELIVERABLE_EVENTS = ("Transaction.created", "Sale.created", "Transaction.refunded")

CATALOGUE: tuple[tuple[str, int, int], ...] = (  # course, price in cents, relative weight
    ("Watercolour for Beginners", 4_900, 30),
    ("Sourdough Masterclass", 12_900, 20),
    ("Freelance Copywriting Bootcamp", 49_700, 12),
    ("Portrait Photography Pro", 29_900, 8),
)
FIRST = ("Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Priya", "Lucas", "Sofia", "Omar", "Grace", "Kai")
LAST = ("Johnson", "Nguyen", "Garcia", "Smith", "Okafor", "Rossi", "Tanaka", "Müller", "Dubois", "Singh")


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0


@dataclass
class Delivery:
    """One webhook POST the fake made to the app."""

    url: str
    event: str
    body: bytes
    status: int  # 0 when the app could not be reached
    response_body: bytes = b""

    def json(self) -> JsonDict | list[JsonDict]:
        decoded: JsonDict | list[JsonDict] = json.loads(self.body)
        return decoded


class FakeTeachable(BackgroundServer):
    """A fake Teachable school + Admin API server.

    Knobs for behaviour the docs leave open, plain attributes a test may flip:

    * ``api_access`` - False models a plan without API access (403 for a valid key);
    * ``date_spellings`` - which date filters ``GET /v1/transactions`` honours: ``{"start"}``
      (``start``/``end``), ``{"start_date"}`` (``start_date``/``end_date``), both (default) or none
      (an ignored parameter narrows nothing, as a real API ignores an unknown one);
    * ``default_per`` / ``max_per`` - page size without ``per`` and its clamp (docs say 25 and 20).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_key: str = "", verbose: bool = False) -> None:
        super().__init__(host, port)
        self.lock = threading.RLock()
        self.api_key = api_key or "tch_fake_" + "".join(random.choices("abcdefghijkmnpqrstuvwxyz23456789", k=24))
        self.api_keys: set[str] = {self.api_key}
        self.api_access = True
        self.date_spellings: set[str] = set(DATE_SPELLINGS)
        self.default_per = 20
        self.max_per = 20
        self.verbose = verbose
        self.delivery_timeout = 10.0
        self.users: dict[int, User] = {}
        self.courses: dict[int, Course] = {}
        self.pricing_plans: dict[int, PricingPlan] = {}
        self.sales: dict[int, Sale] = {}
        self.transactions: dict[int, Transaction] = {}
        self.webhooks: dict[int, Webhook] = {}
        self.webhook_events: list[WebhookEvent] = []
        self.requests: list[LoggedRequest] = []
        self.deliveries: list[Delivery] = []
        self._ids = itertools.count(1001)
        self._faults: deque[Response] = deque()

    thread_name = "fake-teachable"

    def _make_server(self, address: tuple[str, int]) -> TeachableHTTPServer:
        return TeachableHTTPServer(address, self)

    @property
    def api_url(self) -> str:
        """Use it where the app would use ``https://developers.teachable.com/v1``."""
        return self.base_url + "/v1"

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def _next_id(self) -> int:
        return next(self._ids)

    # ---- faults ----------------------------------------------------------------------------------
    def throttle_next(self, n: int = 1, reset: int = 1) -> None:
        """The next ``n`` requests answer 429 as Teachable documents it (message and RateLimit-* headers)."""
        headers = {"RateLimit-Limit": "100", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)}
        with self.lock:
            self._faults.extend(error(429, "API rate limit exceeded", dict(headers)) for _ in range(n))

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        with self.lock:
            self._faults.extend(error(status, "Internal Server Error") for _ in range(n))

    def pop_fault(self) -> Response | None:
        with self.lock:
            return self._faults.popleft() if self._faults else None

    # ---- request log -----------------------------------------------------------------------------
    def log_request(self, req: Request) -> LoggedRequest:
        entry = LoggedRequest(req.method, req.path, dict(req.query), dict(req.headers))
        with self.lock:
            self.requests.append(entry)
        return entry

    def requests_to(self, path: str) -> list[LoggedRequest]:
        """Logged requests for one path, e.g. ``"/v1/users/1001"``; a trailing ``*`` matches a prefix."""
        with self.lock:
            if path.endswith("*"):
                return [r for r in self.requests if r.path.startswith(path[:-1])]
            return [r for r in self.requests if r.path == path]

    def clear_log(self) -> None:
        with self.lock:
            self.requests.clear()
            self.deliveries.clear()

    # ---- data ------------------------------------------------------------------------------------
    def store_transactions(self) -> Iterator[Transaction]:
        return iter(list(self.transactions.values()))

    def add_user(self, email: str, name: str | None = None, *, src: str | None = None) -> User:
        with self.lock:
            user = User(self._next_id(), email, name, self.now(), src=src)
            self.users[user.id] = user
            return user

    def add_course(self, name: str) -> Course:
        with self.lock:
            course = Course(self._next_id(), name)
            self.courses[course.id] = course
            return course

    def add_pricing_plan(self, course: Course, price: int, currency: str = "USD", name: str = "") -> PricingPlan:
        with self.lock:
            plan = PricingPlan(
                self._next_id(), course, name or f"{course.name} - one payment", price, currency, self.now()
            )
            self.pricing_plans[plan.id] = plan
            return plan

    def add_purchase(
        self,
        buyer: User,
        plan: PricingPlan,
        *,
        at: datetime | None = None,
        amount: int | None = None,
        currency: str | None = None,
        student: User | None = None,
        tax: int = 0,
    ) -> Transaction:
        """A paid sale and its transaction (defaults: the plan's price and currency, now). ``student``
        other than the buyer makes it a gift."""
        with self.lock:
            when = at or self.now()
            sale = Sale(self._next_id(), student or buyer, plan, when)
            txn = Transaction(
                self._next_id(),
                buyer,
                plan,
                sale,
                plan.price if amount is None else amount,
                currency or plan.currency,
                when,
                tax_charge=tax,
            )
            sale.transaction = txn
            self.sales[sale.id] = sale
            self.transactions[txn.id] = txn
            return txn

    def enroll_free(self, student: User, plan: PricingPlan, *, at: datetime | None = None) -> Sale:
        """A free or manual enrollment: a sale without a transaction."""
        with self.lock:
            sale = Sale(self._next_id(), student, plan, at or self.now())
            self.sales[sale.id] = sale
            return sale

    def refund(self, txn: Transaction, amount: int | None = None, *, at: datetime | None = None) -> Transaction:
        """Refund ``amount`` (the rest when None) of a transaction; Teachable keeps one running total."""
        with self.lock:
            rest = txn.final_price - txn.amount_refunded
            value = rest if amount is None else amount
            if not 0 < value <= rest:
                raise ValueError(f"can refund between 1 and {rest}, not {value}")
            when = at or self.now()
            txn.refunds.append((value, when))
            txn.amount_refunded += value
            txn.refunded_at = when
            return txn

    def add_webhook(self, url: str, event_trigger: str, workflow_state: str = "verified") -> Webhook:
        """What the creator does in Settings > Webhooks > Add Webhook (one event per webhook here)."""
        with self.lock:
            webhook = Webhook(self._next_id(), url, event_trigger, workflow_state)
            self.webhooks[webhook.id] = webhook
            return webhook

    def seed_random(self, n: int, *, days: int = 30, seed: int | None = None) -> list[Transaction]:
        """``n`` purchases over the last ``days``: a few courses, repeat buyers, ~6 % refunds (some partial)."""
        rng = random.Random(seed)
        with self.lock:
            plans = [self.add_pricing_plan(self.add_course(name), price) for name, price, _ in CATALOGUE]
            weights = [weight for *_, weight in CATALOGUE]
            buyers: list[User] = []
            made: list[Transaction] = []
            now = self.now()
            for _ in range(n):
                if buyers and rng.random() < 0.15:
                    buyer = rng.choice(buyers)
                else:
                    first, last = rng.choice(FIRST), rng.choice(LAST)
                    email = f"{first}.{last}.{len(buyers) + 1}@example.com".lower()
                    buyer = self.add_user(email, f"{first} {last}")
                    buyers.append(buyer)
                plan = rng.choices(plans, weights)[0]
                at = now - timedelta(seconds=rng.uniform(60, days * 86_400))
                txn = self.add_purchase(buyer, plan, at=at)
                made.append(txn)
                if rng.random() < 0.06:
                    partial = rng.random() < 0.3
                    amount = txn.final_price // 2 if partial else None
                    self.refund(txn, amount, at=min(now, at + timedelta(days=rng.uniform(0.1, 5))))
            return made

    # ---- webhooks --------------------------------------------------------------------------------
    def event_body(self, event: str, resource: Transaction | Sale) -> JsonDict:
        """The body of one delivery (see the module docstring); logs the event under its webhooks."""
        if event not in DELIVERABLE_EVENTS:
            raise ValueError(f"deliver() supports {DELIVERABLE_EVENTS}, not {event!r}")
        with self.lock:
            if event == "Sale.created":
                sale = resource if isinstance(resource, Sale) else resource.sale
                obj, object_id = sale.to_event_object(), sale.id
            else:
                if not isinstance(resource, Transaction):
                    raise ValueError(f"{event} needs a Transaction")
                obj, object_id = resource.to_event_object(), resource.id
            event_id = self._next_id()
            now = self.now()
            for webhook in self.webhooks.values():
                if webhook.event_trigger == event:
                    webhook.webhook_events_count += 1
                    object_type = "Sale" if event == "Sale.created" else "Transaction"
                    self.webhook_events.append(WebhookEvent(event_id, webhook, object_type, object_id, now))
            return {"id": event_id, "type": event, "created": format_time(now), "object": obj}

    def deliver(
        self, event: str, resource: Transaction | Sale, url: str | None = None, *, as_array: bool = False
    ) -> Delivery:
        """POST one event to ``url`` (default: the first webhook registered for it) and record it."""
        body = self.event_body(event, resource)
        if url is None:
            url = next((w.url for w in self.webhooks.values() if w.event_trigger == event), None)
            if url is None:
                raise ValueError(f"no webhook registered for {event}; pass url= or add_webhook() first")
        return self.post(url, event, json.dumps([body] if as_array else body).encode())

    def post(self, url: str, event: str, body: bytes) -> Delivery:
        """POST raw bytes as Teachable would (JSON, its own user agent); outside the lock, since the
        app may call the API back while it handles the delivery."""
        request = urllib.request.Request(  # noqa: S310 - the URL is the test's own
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "Teachable-Webhooks/1.0"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.delivery_timeout) as response:  # noqa: S310
                delivery = Delivery(url, event, body, response.status, response.read())
        except urllib.error.HTTPError as refused:
            delivery = Delivery(url, event, body, refused.code, refused.read())
        except (urllib.error.URLError, OSError):
            delivery = Delivery(url, event, body, 0)
        with self.lock:
            self.deliveries.append(delivery)
            for logged in reversed(self.webhook_events):
                if logged.webhook.url == url and logged.response_http_status is None:
                    logged.response_http_status = delivery.status
        return delivery

    # ---- clock helpers for tests -----------------------------------------------------------------
    @staticmethod
    def days_ago(days: float) -> datetime:
        return datetime.now(UTC) - timedelta(days=days)
