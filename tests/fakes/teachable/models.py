"""What a Teachable school holds, and how the Admin API v1 serialises it.

Field names follow the research notes (/work/shared/research/platforms.md §2.2): transactions as the
OpenAPI description and the optio SDK ("observed from the live API") list them; ``GET /v1/users/{id}``
answers the user object at the top level (optio, observed live), while courses and pricing plans come
wrapped (``{"course": {...}}``, ``{"pricing_plan": {...}}``). Money is integer minor units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JsonDict = dict[str, Any]


def format_time(moment: datetime) -> str:
    """Teachable's ISO 8601 with milliseconds and ``Z`` (UTC, as Teachable computes transactions)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class User:
    id: int
    email: str
    name: str | None
    created_at: datetime
    src: str | None = None
    role: str = "student"

    def to_json(self, courses: list[JsonDict] | None = None) -> JsonDict:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "src": self.src,
            "role": self.role,
            "last_sign_in_ip": None,
            "tags": [],
            "courses": courses or [],
        }

    def summary(self) -> JsonDict:
        return {"id": self.id, "email": self.email, "name": self.name}


@dataclass
class Course:
    id: int
    name: str
    heading: str = ""
    is_published: bool = True

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "name": self.name,
            "heading": self.heading,
            "description": None,
            "is_published": self.is_published,
            "image_url": None,
        }


@dataclass
class PricingPlan:
    id: int
    course: Course
    name: str
    price: int
    currency: str
    created_at: datetime
    frequency: str = "one_time_payment"

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.created_at),
            "name": self.name,
            "price": self.price,
            "currency": self.currency,
            "course_id": self.course.id,
            "description": None,
            "free_trial_length": None,
            "enrollment_cap": None,
            "frequency": {"type": self.frequency, "billing_interval": None, "billing_interval_count": None},
        }


@dataclass
class Sale:
    """An enrollment in a product: ``student`` differs from the transaction's buyer for a gift."""

    id: int
    student: User
    plan: PricingPlan
    created_at: datetime
    transaction: Transaction | None = None  # None for a free or manual enrollment

    def to_event_object(self) -> JsonDict:
        buyer = self.transaction.buyer if self.transaction else self.student
        return {
            "id": self.id,
            "created_at": format_time(self.created_at),
            "user": self.student.summary(),
            "buyer": buyer.summary(),
            "course": {"id": self.plan.course.id, "name": self.plan.course.name},
            "pricing_plan": {"id": self.plan.id, "name": self.plan.name, "price": self.plan.price},
            "transaction_id": self.transaction.id if self.transaction else None,
            "is_gift": buyer is not self.student,
        }


@dataclass
class Transaction:
    id: int
    buyer: User
    plan: PricingPlan
    sale: Sale
    final_price: int
    currency: str
    created_at: datetime
    tax_charge: int = 0
    coupon_id: int | None = None
    affiliate_id: int | None = None
    amount_refunded: int = 0
    refunded_at: datetime | None = None
    has_chargeback: bool = False
    refunds: list[tuple[int, datetime]] = field(default_factory=list)  # each refund: (amount, when)

    @property
    def is_fully_refunded(self) -> bool:
        return self.amount_refunded >= self.final_price > 0

    def to_json(self) -> JsonDict:
        charge = self.final_price + self.tax_charge
        return {
            "id": self.id,
            "user_id": self.buyer.id,
            "pricing_plan_id": self.plan.id,
            "sale_id": self.sale.id,
            "created_at": format_time(self.created_at),
            "purchased_at": format_time(self.created_at),
            "refunded_at": format_time(self.refunded_at) if self.refunded_at else None,
            "charge": charge,
            "final_price": self.final_price,
            "tax_charge": self.tax_charge,
            "revenue": self.final_price - self.amount_refunded,
            "amount_refunded": self.amount_refunded,
            "chargeback_fee": None,
            "affiliate_fees": None,
            "author_fees": None,
            "currency": self.currency,
            "status": "paid",
            "has_chargeback": self.has_chargeback,
            "coupon_id": self.coupon_id,
            "affiliate_id": self.affiliate_id,
            "author_id": None,
        }

    def to_event_object(self) -> JsonDict:
        """The ``object`` of a Transaction.* delivery: the transaction with its buyer and course inlined."""
        body = self.to_json()
        body["user"] = self.buyer.summary()
        body["course"] = {"id": self.plan.course.id, "name": self.plan.course.name}
        body["pricing_plan"] = {"id": self.plan.id, "name": self.plan.name}
        return body


@dataclass
class Webhook:
    """A webhook the creator added in the dashboard (Settings > Webhooks); one event trigger each."""

    id: int
    url: str
    event_trigger: str
    workflow_state: str = "verified"  # verified | pending | failed
    webhook_events_count: int = 0

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "workflow_state": self.workflow_state,
            "url": self.url,
            "event_trigger": self.event_trigger,
            "webhook_events_count": self.webhook_events_count,
        }


@dataclass
class WebhookEvent:
    """One delivery attempt, as ``GET /v1/webhooks/{id}/events`` lists it."""

    id: int
    webhook: Webhook
    object_type: str
    object_id: int
    created_at: datetime
    response_http_status: int | None = None
    attempt_count: int = 1

    def to_json(self) -> JsonDict:
        return {
            "id": self.id,
            "workflow_state": "delivered" if (self.response_http_status or 0) < 300 else "failed",
            "webhook_id": self.webhook.id,
            "attempt_count": self.attempt_count,
            "last_attempted_at": format_time(self.created_at),
            "created_at": format_time(self.created_at),
            "object_type": self.object_type,
            "object_id": self.object_id,
            "response_http_status": self.response_http_status,
        }
