"""Platform webhooks: `POST /webhooks/{platform}/{connection_id}[/{token}]`.

Authenticity comes first: a wrong or missing URL token, or an unknown connection, is answered 404; a
wrong signature or an unreadable body 400 with the reason. Neither is stored, and the attempt is logged
with the connection. An authentic delivery is stored raw and acknowledged at once; a job confirms it
through the platform's API before it counts. A repeat of the same platform event id is accepted and
ignored; a delivery for a disconnected connection gets 410, which tells platforms to stop; 503 when the
platform's API, needed to read it, fails, so the platform sends it again.
"""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, jsonify, request
from marshmallow import Schema, fields

from adapters.web.contract import ANY_OBJECT, Answer, ErrorSchema, operation
from core.ports.platforms import Headers, WebhookDelivery
from core.services.connections import Connections, WebhookOutcome, WebhookReceipt

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")

MAX_WEBHOOK_BYTES = 1024 * 1024
# Never kept with a stored delivery: they carry nothing a platform sends, and may carry our own secrets.
_DROPPED_HEADERS = {"cookie", "authorization"}

_ANSWERS: dict[WebhookOutcome, tuple[int, str]] = {
    WebhookOutcome.ACCEPTED: (202, "accepted"),
    WebhookOutcome.DUPLICATE: (200, "duplicate: already received, ignored"),
    WebhookOutcome.UNKNOWN: (404, "no such webhook"),
    WebhookOutcome.GONE: (410, "this connection was disconnected; remove the webhook"),
    WebhookOutcome.REJECTED: (400, "not a delivery this webhook understands"),
    WebhookOutcome.RETRY_LATER: (503, "cannot be read just now; send it again later"),
}


@inject
def _receive(
    platform: str,
    connection_id: int,
    token: str | None,
    delivery: WebhookDelivery,
    connections: Connections = Provide["services.connections"],
) -> WebhookReceipt:
    return connections.receive_webhook(platform, connection_id, token, delivery)


class _SignedPath(Schema):
    platform = fields.String(required=True, metadata={"example": "kajabi"})
    connection_id = fields.Integer(required=True)


class _TokenPath(_SignedPath):
    token = fields.String(required=True)


class WebhookReceiptSchema(Schema):
    status = fields.String(required=True)


class WebhookRefusalSchema(ErrorSchema):
    reason = fields.String(allow_none=True, metadata={"description": "What was wrong with the delivery."})


_ANSWERED = {
    200: Answer("A repeat of an event id already received: accepted and ignored.", WebhookReceiptSchema),
    202: Answer("Stored; confirmed through the platform's API and counted by a job.", WebhookReceiptSchema),
    400: Answer(
        "A wrong signature, or a body that is not a delivery this webhook understands; `reason` says which. Stored "
        "nowhere.",
        WebhookRefusalSchema,
    ),
    404: Answer("Unknown connection or wrong URL token: stored nowhere.", WebhookRefusalSchema),
    410: Answer("The connection was disconnected: remove the webhook.", WebhookRefusalSchema),
    413: Answer("Body larger than 1 MiB.", ErrorSchema),
    503: Answer("The platform's API, needed to read it, failed: send it again later.", WebhookRefusalSchema),
}
# The view reads the raw bytes itself: a signature covers them exactly.
_DELIVERY = {"body": ANY_OBJECT, "parses_body": False, "path_parameters": _SignedPath}


@blueprint.post("/<platform>/<int:connection_id>/<token>")
@operation(
    "A platform delivers an event (platforms that sign nothing: Kajabi, Teachable)",
    _ANSWERED,
    description="The token is the per-connection secret CourseSignal put in the URL it registered; only its hash is "
    "stored, and it is compared in constant time before anything else.",
    **{**_DELIVERY, "path_parameters": _TokenPath},
)
def receive_with_token(platform: str, connection_id: int, token: str) -> Any:
    return _answer(platform, connection_id, token)


@blueprint.post("/<platform>/<int:connection_id>")
@operation(
    "A platform delivers a signed event (Stripe)",
    _ANSWERED,
    description="The platform's signature header is verified before anything else.",
    **_DELIVERY,
)
def receive_signed(platform: str, connection_id: int) -> Any:
    return _answer(platform, connection_id, None)


def _answer(platform: str, connection_id: int, token: str | None) -> Any:
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        return jsonify(error="body too large"), 413
    body = request.get_data(cache=False)
    if len(body) > MAX_WEBHOOK_BYTES:
        return jsonify(error="body too large"), 413
    headers = Headers((name, value) for name, value in request.headers.items() if name.lower() not in _DROPPED_HEADERS)
    receipt = _receive(platform, connection_id, token, WebhookDelivery(headers=headers, body=body))
    status, message = _ANSWERS[receipt.outcome]
    if status >= 400:
        return jsonify(WebhookRefusalSchema().dump({"error": message, "reason": receipt.reason or None})), status
    return jsonify(WebhookReceiptSchema().dump({"status": message})), status
