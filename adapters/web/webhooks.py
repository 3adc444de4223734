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


@blueprint.post("/<platform>/<int:connection_id>/<token>")
@blueprint.post("/<platform>/<int:connection_id>")
def receive(platform: str, connection_id: int, token: str | None = None) -> Any:
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        return jsonify(error="body too large"), 413
    body = request.get_data(cache=False)
    if len(body) > MAX_WEBHOOK_BYTES:
        return jsonify(error="body too large"), 413
    headers = Headers((name, value) for name, value in request.headers.items() if name.lower() not in _DROPPED_HEADERS)
    receipt = _receive(platform, connection_id, token, WebhookDelivery(headers=headers, body=body))
    status, message = _ANSWERS[receipt.outcome]
    if status >= 400:
        return jsonify(error=message, reason=receipt.reason or None), status
    return jsonify(status=message), status
