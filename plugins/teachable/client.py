"""Teachable's Admin API v1 as CourseSignal reads it: one client per sync or webhook, caching the
users, pricing plans and courses it has looked up so each is fetched once."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from marshmallow import Schema, ValidationError

from coursesignal import CredentialsRejected, PlatformError, RetryingHttp

from .schemas import (
    CourseSchema,
    PricingPlanSchema,
    TeachablePricingPlan,
    TeachableTransaction,
    TeachableUser,
    TeachableWebhook,
    TransactionPageSchema,
    TransactionSchema,
    UserSchema,
    WebhookListSchema,
)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://developers.teachable.com/v1"
#: Teachable's docs say both "25 by default" and "20 maximum" per page: ask for 20.
PAGE_SIZE = 20
#: A sync never reads more pages than this (20,000 transactions): a loop that does not end is a bug.
MAX_PAGES = 1000
#: The transactions date filter is spelled `start`/`end` in the OpenAPI description and
#: `start_date`/`end_date` by an SDK (research §2.2, unconfirmed): send both; an API ignores the other.
START_PARAMETERS = ("start", "start_date")

BAD_KEY = (
    "Teachable refused this API key. In Teachable open Settings > API, create a new API key, "
    "and paste it here (keys are shown once, when created)."
)
NO_API_ACCESS = (
    "Teachable accepted the key but this school's plan does not include API access. API keys work on "
    "the plans with the Teachable API (Growth and above); upgrade the plan, then connect again."
)


class CredentialsRefused(CredentialsRejected):
    """401: the key is wrong, deleted or from another school."""


class ApiNotInPlan(CredentialsRejected):
    """403 with a valid key: the school's plan has no Admin API."""


class NotFound(Exception):
    """404: the resource is gone (a deleted user or pricing plan); the caller decides what that means."""


@dataclass(frozen=True, slots=True)
class TransactionPage:
    transactions: tuple[TeachableTransaction, ...]
    total: int | None
    number_of_pages: int | None


def _load(schema: Schema, data: Any, what: str) -> Any:
    try:
        return schema.load(data)
    except ValidationError as problem:
        log.warning("Teachable sent %s CourseSignal cannot read: %s", what, problem.normalized_messages())
        raise PlatformError(
            f"Teachable sent {what} CourseSignal cannot read. Try again later; if it persists, contact support."
        ) from None


class TeachableClient:
    def __init__(self, api_url: str, api_key: str, http: RetryingHttp, session: requests.Session) -> None:
        self._api_url = api_url.rstrip("/")
        self._headers = {"apiKey": api_key, "Accept": "application/json"}
        self._http = http
        self._session = session
        self._users: dict[int, TeachableUser | None] = {}
        self._plans: dict[int, TeachablePricingPlan | None] = {}
        self._course_names: dict[int, str | None] = {}

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        url = f"{self._api_url}{path}"
        response = self._http.request(self._session, "GET", url, params=dict(params or {}), headers=self._headers)
        if response.status_code == 401:
            raise CredentialsRefused(BAD_KEY)
        if response.status_code == 403:
            raise ApiNotInPlan(NO_API_ACCESS)
        if response.status_code == 404:
            raise NotFound(path)
        if response.status_code >= 400:
            log.warning("Teachable answered %s to %s: %s", response.status_code, path, response.text[:500])
            raise PlatformError(f"Teachable refused a request (HTTP {response.status_code}). Try again later.")
        try:
            return response.json()
        except ValueError:
            log.warning("Teachable answered %s with something that is not JSON: %r", path, response.text[:200])
            raise PlatformError("Teachable sent an answer CourseSignal cannot read. Try again later.") from None

    # ---- transactions ----------------------------------------------------------------------------
    def transaction_page(self, page: int, per: int = PAGE_SIZE, **filters: Any) -> TransactionPage:
        body = _load(
            TransactionPageSchema(),
            self.get("/transactions", {**filters, "page": page, "per": per}),
            "a page of transactions",
        )
        transactions = []
        for raw in body["transactions"]:
            try:
                transactions.append(TransactionSchema().load(raw))
            except ValidationError as problem:
                # One unreadable row must not lose the rest of the sync; the log names it for support.
                ident = raw.get("id") if isinstance(raw, dict) else None
                log.warning("Skipping Teachable transaction %r: %s", ident, problem.normalized_messages())
        meta = body["meta"]
        return TransactionPage(tuple(transactions), meta.get("total"), meta.get("number_of_pages"))

    def transaction_pages(self, **filters: Any) -> Iterator[TransactionPage]:
        for number in range(1, MAX_PAGES + 1):
            page = self.transaction_page(number, **filters)
            yield page
            last = (
                page.number_of_pages if page.number_of_pages is not None else number + (1 if page.transactions else 0)
            )
            if number >= last or not page.transactions:
                return
        log.warning("Teachable: stopped after %d pages of transactions", MAX_PAGES)

    @staticmethod
    def since_filters(since: datetime) -> dict[str, str]:
        """`start` is exclusive: ask from one second earlier, the caller keeps `>= since`."""
        start = (since - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
        return dict.fromkeys(START_PARAMETERS, start)

    def find_transaction(self, *, matches: Any, **filters: Any) -> TeachableTransaction | None:
        """The first transaction, among those the filters select, for which `matches(t)` is true.
        Teachable has no endpoint for one transaction: the list, filtered, is the way to read one."""
        for page in self.transaction_pages(**filters):
            for transaction in page.transactions:
                if matches(transaction):
                    return transaction
        return None

    # ---- what a transaction refers to, cached for the life of this client -----------------------
    def user(self, user_id: int) -> TeachableUser | None:
        if user_id not in self._users:
            try:
                self._users[user_id] = _load(UserSchema(), self.get(f"/users/{user_id}"), "a user")
            except NotFound:
                self._users[user_id] = None
        return self._users[user_id]

    def pricing_plan(self, plan_id: int) -> TeachablePricingPlan | None:
        if plan_id not in self._plans:
            try:
                self._plans[plan_id] = _load(
                    PricingPlanSchema(), self.get(f"/pricing_plans/{plan_id}"), "a pricing plan"
                )
            except NotFound:
                self._plans[plan_id] = None
        return self._plans[plan_id]

    def course_name(self, course_id: int) -> str | None:
        if course_id not in self._course_names:
            try:
                course = _load(CourseSchema(), self.get(f"/courses/{course_id}"), "a course")
                self._course_names[course_id] = course.get("name") or None
            except NotFound:
                self._course_names[course_id] = None
        return self._course_names[course_id]

    def course_name_for_plan(self, plan_id: int | None) -> str | None:
        """The course a pricing plan sells; the plan's own name when the course is gone."""
        if plan_id is None:
            return None
        plan = self.pricing_plan(plan_id)
        if plan is None:
            return None
        name = self.course_name(plan.course_id) if plan.course_id is not None else None
        return name or plan.name

    # ---- webhooks the creator added in the dashboard --------------------------------------------
    def webhooks(self) -> tuple[TeachableWebhook, ...]:
        body = _load(WebhookListSchema(), self.get("/webhooks"), "the list of webhooks")
        return tuple(body["webhooks"])
