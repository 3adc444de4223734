"""Marshmallow schemas for what Teachable sends: API answers and webhook bodies, read defensively.

Unknown fields are ignored everywhere (Teachable adds fields, and the webhook body is undocumented);
what CourseSignal needs is required and typed. Money must be an integer of minor units: a float is
refused rather than rounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load, validate

MAX_ID = 2**63 - 1


class Identifier(fields.Field):  # type: ignore[type-arg]
    """A Teachable id: an integer, or a string of digits (a webhook may quote it)."""

    default_error_messages = {"invalid": "Not a Teachable id."}  # noqa: RUF012 - marshmallow's own convention

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
            value = int(value)
        if not isinstance(value, int) or not 0 < value <= MAX_ID:
            raise self.make_error("invalid")
        return value


def _money() -> fields.Integer:
    return fields.Integer(strict=True, allow_none=True, load_default=None, validate=validate.Range(min=0))


def _time(required: bool = False) -> fields.AwareDateTime:
    if required:
        return fields.AwareDateTime(required=True, default_timezone=UTC)
    return fields.AwareDateTime(allow_none=True, load_default=None, default_timezone=UTC)


def _optional_id() -> Identifier:
    return Identifier(allow_none=True, load_default=None)


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


def _unwrap(key: str, data: Any) -> Any:
    """Teachable wraps some single resources (`{"course": {...}}`) and not others (users)."""
    if isinstance(data, dict) and isinstance(data.get(key), dict):
        return data[key]
    return data


# ---- API answers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TeachableTransaction:
    id: int
    user_id: int
    pricing_plan_id: int | None
    sale_id: int | None
    price: int  # minor units of `currency`: what the buyer paid for the product
    currency: str
    purchased_at: datetime
    amount_refunded: int
    refunded_at: datetime | None


class TransactionSchema(_Lenient):
    id = Identifier(required=True)
    user_id = Identifier(required=True)
    pricing_plan_id = _optional_id()
    sale_id = _optional_id()
    created_at = _time(required=True)
    purchased_at = _time()
    final_price = _money()
    charge = _money()
    currency = fields.String(required=True, validate=validate.Regexp(r"[A-Za-z]{3}\Z", error="not a currency code"))
    amount_refunded = _money()
    refunded_at = _time()

    @post_load
    def _to_transaction(self, data: dict[str, Any], **_: Any) -> TeachableTransaction:
        # `final_price` is "in the currency of choice"; `charge` is documented as USD, so it is only the
        # fallback when a transaction has no final price.
        price = data["final_price"] if data["final_price"] is not None else data["charge"]
        if price is None:
            raise ValidationError({"final_price": ["missing: the transaction has no amount"]})
        return TeachableTransaction(
            id=data["id"],
            user_id=data["user_id"],
            pricing_plan_id=data["pricing_plan_id"],
            sale_id=data["sale_id"],
            price=price,
            currency=data["currency"].upper(),
            purchased_at=(data["purchased_at"] or data["created_at"]).astimezone(UTC),
            amount_refunded=min(data["amount_refunded"] or 0, price),
            refunded_at=data["refunded_at"].astimezone(UTC) if data["refunded_at"] else None,
        )


class PageMetaSchema(_Lenient):
    total = fields.Integer(strict=True, allow_none=True, load_default=None)
    page = fields.Integer(strict=True, allow_none=True, load_default=None)
    number_of_pages = fields.Integer(strict=True, allow_none=True, load_default=None)


class TransactionPageSchema(_Lenient):
    transactions = fields.List(fields.Raw(), required=True)
    meta = fields.Nested(PageMetaSchema, load_default=dict)


@dataclass(frozen=True, slots=True)
class TeachableUser:
    id: int
    email: str | None
    name: str | None


class UserSchema(_Lenient):
    id = Identifier(required=True)
    email = fields.String(allow_none=True, load_default=None)
    name = fields.String(allow_none=True, load_default=None)

    @pre_load
    def _unwrap(self, data: Any, **_: Any) -> Any:
        return _unwrap("user", data)

    @post_load
    def _to_user(self, data: dict[str, Any], **_: Any) -> TeachableUser:
        email = (data["email"] or "").strip().lower()
        return TeachableUser(data["id"], email if "@" in email else None, data["name"])


@dataclass(frozen=True, slots=True)
class TeachablePricingPlan:
    id: int
    name: str | None
    course_id: int | None


class PricingPlanSchema(_Lenient):
    id = Identifier(required=True)
    name = fields.String(allow_none=True, load_default=None)
    course_id = _optional_id()

    @pre_load
    def _unwrap(self, data: Any, **_: Any) -> Any:
        return _unwrap("pricing_plan", data)

    @post_load
    def _to_plan(self, data: dict[str, Any], **_: Any) -> TeachablePricingPlan:
        return TeachablePricingPlan(data["id"], data["name"] or None, data["course_id"])


class CourseSchema(_Lenient):
    id = Identifier(required=True)
    name = fields.String(allow_none=True, load_default=None)

    @pre_load
    def _unwrap(self, data: Any, **_: Any) -> Any:
        return _unwrap("course", data)


@dataclass(frozen=True, slots=True)
class TeachableWebhook:
    id: int
    url: str
    event_trigger: str
    workflow_state: str


class WebhookSchema(_Lenient):
    id = Identifier(required=True)
    url = fields.String(load_default="")
    event_trigger = fields.String(load_default="")
    workflow_state = fields.String(load_default="")

    @post_load
    def _to_webhook(self, data: dict[str, Any], **_: Any) -> TeachableWebhook:
        return TeachableWebhook(data["id"], data["url"], data["event_trigger"], data["workflow_state"])


class WebhookListSchema(_Lenient):
    webhooks = fields.List(fields.Nested(WebhookSchema), required=True)


# ---- webhook bodies ------------------------------------------------------------------------------
# Undocumented (research §2.6): an event is `{"id", "type", "created", "object"}`; the object of a
# Transaction.* event is the transaction (with `user_id` or a `user` {id}), the object of Sale.created
# is the sale (`id`, `user` = the student, maybe `buyer`, `pricing_plan` or `pricing_plan_id`,
# `transaction_id`). Only ids and times are kept: amounts and emails are read back from the API.


class _Ref(_Lenient):
    id = _optional_id()


class EventSchema(_Lenient):
    id = Identifier(required=True)
    type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    created = fields.Raw(load_default=None)  # informative only: read leniently below
    object = fields.Raw(load_default=None)  # read per event type: only money events need it


class TransactionEventObjectSchema(_Lenient):
    id = Identifier(required=True)
    user_id = _optional_id()
    user = fields.Nested(_Ref, allow_none=True, load_default=None)
    created_at = fields.Raw(load_default=None)
    purchased_at = fields.Raw(load_default=None)


class SaleEventObjectSchema(_Lenient):
    id = Identifier(required=True)
    user = fields.Nested(_Ref, allow_none=True, load_default=None)
    buyer = fields.Nested(_Ref, allow_none=True, load_default=None)
    pricing_plan = fields.Nested(_Ref, allow_none=True, load_default=None)
    pricing_plan_id = _optional_id()
    transaction_id = _optional_id()
    created_at = fields.Raw(load_default=None)


def lenient_time(value: Any) -> datetime | None:
    """A time from an undocumented field: used to narrow a search, so a bad one just means None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
