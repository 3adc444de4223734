"""Reading one Teachable webhook delivery into the events CourseSignal acts on.

The body is undocumented (research §2.6), so this reads it defensively: a JSON object (one event) or a
JSON array of them (the dashboard's "send data as a JSON array" setting); each event `{"id", "type",
"object", ...}`. Anything else raises WebhookRejected with the reason; nothing else escapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from coursesignal import WebhookRejected

from .schemas import EventSchema, SaleEventObjectSchema, TransactionEventObjectSchema, lenient_time

MAX_BODY_BYTES = 1024 * 1024
MAX_EVENTS = 100

TRANSACTION_CREATED = "Transaction.created"
TRANSACTION_REFUNDED = "Transaction.refunded"
SALE_CREATED = "Sale.created"
#: The events that carry money; any other event (a creator may tick "All events") is acknowledged and ignored.
MONEY_EVENTS = (TRANSACTION_CREATED, SALE_CREATED, TRANSACTION_REFUNDED)


@dataclass(frozen=True, slots=True)
class TeachableEvent:
    """What CourseSignal keeps of one event: ids and a time to find the transaction through the API."""

    id: int
    type: str
    transaction_id: int | None = None
    sale_id: int | None = None
    user_id: int | None = None  # the buyer, when the body names them
    # Sale.created: the enrolled student (`user`), who is not the buyer when the sale is a gift. Their email
    # is read through the API, never from the body.
    student_id: int | None = None
    pricing_plan_id: int | None = None
    happened_at: datetime | None = None

    @property
    def carries_money(self) -> bool:
        return self.type in MONEY_EVENTS

    def reference(self) -> str:
        """This event as a string kept with the delivery, for the job that reads its transaction."""
        values = {name: getattr(self, name) for name in self.__slots__}
        values["happened_at"] = self.happened_at.isoformat() if self.happened_at else None
        return json.dumps(values, sort_keys=True)

    @classmethod
    def from_reference(cls, reference: str) -> TeachableEvent:
        values = json.loads(reference)
        moment = values.get("happened_at")
        values["happened_at"] = datetime.fromisoformat(moment) if moment else None
        return cls(**values)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise WebhookRejected("The body is larger than 1 MB.")
    try:
        return json.loads(body.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise WebhookRejected("The body is not UTF-8 text.") from None
    except RecursionError:
        raise WebhookRejected("The body is nested too deeply.") from None
    except ValueError:
        raise WebhookRejected("The body is not JSON.") from None


def _problem(error: ValidationError) -> str:
    messages = error.normalized_messages()
    field, detail = next(iter(messages.items()))
    while isinstance(detail, dict) and detail:
        inner, detail = next(iter(detail.items()))
        field = f"{field}.{inner}"
    text = detail[0] if isinstance(detail, list) and detail else detail
    return f"{field}: {text}"


def _event(raw: Any, position: str) -> TeachableEvent:
    if not isinstance(raw, dict):
        raise WebhookRejected(f"{position}is not a JSON object with an event.")
    try:
        envelope = EventSchema().load(raw)
    except ValidationError as error:
        raise WebhookRejected(f"{position}{_problem(error)}") from None
    kind, body = envelope["type"], envelope["object"]
    event_time = lenient_time(envelope["created"])
    if kind in MONEY_EVENTS and not isinstance(body, dict):
        raise WebhookRejected(f"{position}object: missing, or not a JSON object.")
    try:
        if kind in (TRANSACTION_CREATED, TRANSACTION_REFUNDED):
            obj = TransactionEventObjectSchema().load(body)
            user = obj["user"] or {}
            return TeachableEvent(
                envelope["id"],
                kind,
                transaction_id=obj["id"],
                user_id=obj["user_id"] or user.get("id"),
                happened_at=lenient_time(obj["purchased_at"]) or lenient_time(obj["created_at"]) or event_time,
            )
        if kind == SALE_CREATED:
            obj = SaleEventObjectSchema().load(body)
            plan = obj["pricing_plan"] or {}
            return TeachableEvent(
                envelope["id"],
                kind,
                transaction_id=obj["transaction_id"],
                sale_id=obj["id"],
                user_id=(obj["buyer"] or {}).get("id"),
                student_id=(obj["user"] or {}).get("id"),
                pricing_plan_id=obj["pricing_plan_id"] or plan.get("id"),
                happened_at=lenient_time(obj["created_at"]) or event_time,
            )
    except ValidationError as error:
        raise WebhookRejected(f"{position}object.{_problem(error)}") from None
    return TeachableEvent(envelope["id"], kind, happened_at=event_time)


def parse_delivery(body: bytes) -> tuple[TeachableEvent, ...]:
    """The events in one delivery, in order; WebhookRejected (with the reason) for anything unreadable."""
    document = _decode(body)
    if isinstance(document, list):
        if not document:
            raise WebhookRejected("The body is an empty list.")
        if len(document) > MAX_EVENTS:
            raise WebhookRejected(f"The body holds more than {MAX_EVENTS} events.")
        return tuple(_event(raw, f"Event {n}: ") for n, raw in enumerate(document, start=1))
    return (_event(document, ""),)
