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
