"""The OpenAPI document of CourseSignal's public HTTP contracts, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from adapters.web.collect import MAX_BODY_BYTES

blueprint = Blueprint("openapi", __name__)

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}
_TEXT_REASON = {"text/plain": {"schema": {"type": "string"}}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


_SOURCE_ROW = {
    "type": "object",
    "required": [
        "source",
        "channel",
        "visitors",
        "revenue",
        "students",
        "purchases",
        "conversion_rate",
        "avg_order_value",
        "revenue_per_visitor",
    ],
    "properties": {
        "source": {"type": "string", "example": "YouTube"},
        "channel": {"type": "string", "example": "Organic Video"},
        "visitors": {"type": "integer"},
        "revenue": {"type": "integer", "description": "Net of refunds, in the currency's smallest unit."},
        "students": {"type": "integer", "description": "Distinct buyers."},
        "purchases": {"type": "integer"},
        "conversion_rate": {"type": ["number", "null"], "description": "students / visitors"},
        "avg_order_value": {"type": ["integer", "null"]},
        "revenue_per_visitor": {"type": ["integer", "null"]},
    },
}

_REPORT_PARAMETERS = [
    {
        "name": "range",
        "in": "query",
        "schema": {"type": "string", "enum": ["7d", "30d", "90d", "all"], "default": "30d"},
    },
    {
        "name": "model",
        "in": "query",
        "schema": {"type": "string", "enum": ["first_touch", "last_touch"], "default": "first_touch"},
    },
    {
        "name": "currency",
        "in": "query",
        "schema": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
        "description": "Defaults to the account's currency with the most revenue. Currencies are never summed.",
    },
]

_COLLECT_EVENT = {
    "type": "object",
    "required": ["s", "n", "i", "v", "u"],
    "properties": {
        "s": {"type": "string", "maxLength": 40, "description": "The site key from the snippet's data-site."},
        "n": {
            "type": "string",
            "enum": ["pageview", "identify", "click"],
            "description": "click: the visitor clicked a link leaving the page; u is the link's target.",
        },
        "i": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]{8,64}$",
            "description": "Client event id; repeats are stored once.",
        },
        "v": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$", "description": "The visitor id the tracker keeps."},
        "u": {
            "type": "string",
            "format": "uri",
            "maxLength": 2000,
            "description": "The page URL (a click's target). A `_csv=<visitor id>.<unix seconds>` parameter on a "
            "landing URL hands a visitor over from another of the creator's domains.",
        },
        "r": {"type": ["string", "null"], "maxLength": 2000, "description": "document.referrer"},
        "t": {"type": ["string", "null"], "maxLength": 300, "description": "document.title"},
        "e": {"type": ["string", "null"], "maxLength": 254, "description": "The email, identify events only."},
    },
}

_SUBSCRIPTION_NEEDED = {
    "description": "The free trial or the subscription has ended: subscribe on the Billing page. Data is kept.",
    "content": _json(_ERROR),
}

_CONNECTION = {
    "type": "object",
    "required": ["id", "platform", "status", "progress"],
    "properties": {
        "id": {"type": "integer"},
        "platform": {"type": "string", "example": "kajabi"},
        "platform_name": {"type": "string", "example": "Kajabi"},
        "status": {"type": "string", "enum": ["choosing", "syncing", "connected", "needs_attention", "disconnected"]},
        "status_label": {"type": "string"},
        "reason": {"type": ["string", "null"], "description": "What needs attention, and what to do."},
        "account_name": {"type": ["string", "null"], "description": "The platform site being read."},
        "last_synced_at": {"type": ["string", "null"], "format": "date-time"},
        "progress": {
            "type": "object",
            "properties": {
                "pages_done": {"type": "integer"},
                "purchases_found": {"type": "integer"},
                "total": {"type": ["integer", "null"], "description": "Purchases the platform reported, when it did."},
            },
        },
    },
}

_WEBHOOK_PARAMETERS = [
    {"name": "platform", "in": "path", "required": True, "schema": {"type": "string", "example": "kajabi"}},
    {"name": "connection_id", "in": "path", "required": True, "schema": {"type": "integer"}},
]

_WEBHOOK_RESPONSES = {
    "200": {"description": "A repeat of an event id already received: accepted and ignored.", "content": _json({})},
    "202": {"description": "Stored; confirmed through the platform's API and counted by a job.", "content": _json({})},
    "400": {"description": "Authentic, but not a delivery this webhook understands.", "content": _json(_ERROR)},
    "404": {
        "description": "Unknown connection, wrong token or signature: stored nowhere.",
        "content": _json(_ERROR),
    },
    "410": {"description": "The connection was disconnected: remove the webhook.", "content": _json(_ERROR)},
    "413": {"description": "Body larger than 1 MiB.", "content": _json(_ERROR)},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "CourseSignal",
        "version": "1.0.0",
        "description": "Revenue attribution for course creators. Money is an integer in the currency's smallest unit.",
    },
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "A personal API token."},
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
        }
    },
    "paths": {
        "/t/e": {
            "post": {
                "summary": "Collect one tracker event",
                "description": (
                    f"JSON sent as text/plain (no preflight; sendBeacon works), {MAX_BODY_BYTES} bytes at most."
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "text/plain": {"schema": _COLLECT_EVENT},
                        "application/json": {"schema": _COLLECT_EVENT},
                    },
                },
                "responses": {
                    "204": {"description": "Accepted (stored, or dropped as a bot or a repeat)."},
                    "400": {"description": "Malformed event; the body says why.", "content": _TEXT_REASON},
                    "404": {"description": "Unknown site key; nothing stored.", "content": _TEXT_REASON},
                    "413": {"description": "Body too large.", "content": _TEXT_REASON},
                },
            }
        },
        "/api/v1/reports/sources": {
            "get": {
                "summary": "Revenue by source",
                "security": [{"bearer": []}, {"session": []}],
                "parameters": _REPORT_PARAMETERS,
                "responses": {
                    "200": {
                        "description": "The report.",
                        "content": _json(
                            {
                                "type": "object",
                                "required": ["range", "model", "currency", "rows", "unmatched"],
                                "properties": {
                                    "range": {"type": "string"},
                                    "model": {"type": "string"},
                                    "currency": {"type": "string"},
                                    "rows": {"type": "array", "items": _SOURCE_ROW},
                                    "unmatched": {
                                        "type": "object",
                                        "properties": {
                                            "revenue": {"type": "integer"},
                                            "purchases": {"type": "integer"},
                                        },
                                    },
                                },
                            }
                        ),
                    },
                    "400": {"description": "Bad parameter.", "content": _json(_ERROR)},
                    "401": {"description": "No valid token or session.", "content": _json(_ERROR)},
                    "402": _SUBSCRIPTION_NEEDED,
                },
            }
        },
        "/api/v1/reports/sources.csv": {
            "get": {
                "summary": "Revenue by source as CSV, in human units",
                "security": [{"bearer": []}, {"session": []}],
                "parameters": _REPORT_PARAMETERS,
                "responses": {
                    "200": {
                        "description": "CSV with header Source,Visitors,Revenue,Students,Conversion %,"
                        "Avg Order Value,Revenue/Visitor",
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    "401": {"description": "No valid token or session.", "content": _json(_ERROR)},
                    "402": _SUBSCRIPTION_NEEDED,
                },
            }
        },
        "/billing/webhook": {
            "post": {
                "summary": "Stripe's events about CourseSignal's own billing (not creators' sales)",
                "description": (
                    "Signed by Stripe (Stripe-Signature, checked on the raw body, 5 minutes' tolerance). Handles "
                    "checkout.session.completed, customer.subscription.created/updated/deleted, invoice.paid and "
                    "invoice.payment_failed; other types are acknowledged and ignored, as are repeated event ids."
                ),
                "parameters": [
                    {"name": "Stripe-Signature", "in": "header", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {"required": True, "content": _json({"type": "object"})},
                "responses": {
                    "200": {
                        "description": "Received: applied, or nothing to change (stale, repeated, unused, unknown).",
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "received": {"type": "boolean"},
                                    "outcome": {
                                        "type": "string",
                                        "enum": ["applied", "unchanged", "duplicate", "ignored", "unknown_customer"],
                                    },
                                },
                            }
                        ),
                    },
                    "400": {"description": "Forged or stale signature; nothing changed.", "content": _json(_ERROR)},
                    "503": {"description": "Billing is not configured on this server.", "content": _json(_ERROR)},
                },
            }
        },
        "/webhooks/{platform}/{connection_id}/{token}": {
            "post": {
                "summary": "A platform delivers an event (platforms that sign nothing: Kajabi, Teachable)",
                "description": "The token is the per-connection secret CourseSignal put in the URL it registered; "
                "only its hash is stored, and it is compared in constant time before anything else.",
                "parameters": [
                    *_WEBHOOK_PARAMETERS,
                    {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": _WEBHOOK_RESPONSES,
            }
        },
        "/webhooks/{platform}/{connection_id}": {
            "post": {
                "summary": "A platform delivers a signed event (Stripe)",
                "description": "The platform's signature header is verified before anything else.",
                "parameters": _WEBHOOK_PARAMETERS,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": _WEBHOOK_RESPONSES,
            }
        },
        "/api/v1/connections": {
            "get": {
                "summary": "The account's platform connections",
                "security": [{"bearer": []}, {"session": []}],
                "responses": {
                    "200": {
                        "description": "Every connection, with its status.",
                        "content": _json(
                            {"type": "object", "properties": {"connections": {"type": "array", "items": _CONNECTION}}}
                        ),
                    },
                    "401": {"description": "No valid token or session.", "content": _json(_ERROR)},
                },
            }
        },
        "/api/v1/connections/{connection_id}": {
            "get": {
                "summary": "One connection's status and sync progress (polled by the connection page)",
                "security": [{"bearer": []}, {"session": []}],
                "parameters": [
                    {"name": "connection_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {
                    "200": {"description": "The connection.", "content": _json(_CONNECTION)},
                    "401": {"description": "No valid token or session.", "content": _json(_ERROR)},
                    "404": {"description": "No such connection on this account.", "content": _json(_ERROR)},
                },
            }
        },
        "/healthz": {"get": {"summary": "The process is up", "responses": {"200": {"description": "Up."}}}},
        "/readyz": {
            "get": {
                "summary": "Database and, when configured, Redis reachable",
                "responses": {"200": {"description": "Ready."}, "503": {"description": "A dependency is unreachable."}},
            }
        },
    },
}


@blueprint.get("/openapi.json")
def document() -> Any:
    return jsonify(DOCUMENT)
