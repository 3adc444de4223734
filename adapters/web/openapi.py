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

_CUSTOM_DAY = {
    "in": "query",
    "schema": {"type": "string", "format": "date", "example": "2026-11-01"},
}
_REPORT_PARAMETERS = [
    {
        "name": "range",
        "in": "query",
        "schema": {"type": "string", "enum": ["7d", "30d", "90d", "all", "custom"], "default": "30d"},
        "description": "Whole UTC days ending today, or `custom` from `from` to `to` (UTC days, both included; "
        "with only one of them, the 30 days from or up to it; with neither, the last 30 days). The response names "
        "a custom range with its `from` and `to` days.",
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
        "description": "Defaults to the account's currency with the most purchases. Currencies are never summed.",
    },
]

_GROUP_PARAMETER = {
    "name": "group",
    "in": "query",
    "schema": {"type": "string", "enum": ["source", "channel", "campaign"], "default": "source"},
    "description": "What the rows are. With channel or campaign, `source` holds the channel or campaign name.",
}
_SORT_PARAMETER = {
    "name": "sort",
    "in": "query",
    "schema": {
        "type": "string",
        "pattern": "^-?(source|channel|visitors|revenue|students|purchases|conversion_rate|avg_order_value"
        "|revenue_per_visitor)$",
        "default": "-revenue",
    },
    "description": "A column; a leading '-' sorts descending. Rows without a value (no visitors) always go last.",
}
_REPORT_PARAMETERS += [
    {"name": "from", **_CUSTOM_DAY, "description": "With range=custom: the first day, YYYY-MM-DD (UTC)."},
    {
        "name": "to",
        **_CUSTOM_DAY,
        "description": "With range=custom: the last day, included. A range longer than 3660 days keeps its last 3660.",
    },
]
_RANGE_PARAMETERS = [p for p in _REPORT_PARAMETERS if p["name"] != "model"]

_BREAKDOWN_ROW = {
    "type": "object",
    "required": [name for name in _SOURCE_ROW["required"] if name not in ("source", "channel")],
    "properties": {
        "name": {"type": "string", "description": "The medium, campaign or landing page."},
        **{k: v for k, v in _SOURCE_ROW["properties"].items() if k not in ("source", "channel")},
    },
}

_TOUCH = {
    "type": ["object", "null"],
    "properties": {
        "source": {"type": "string"},
        "channel": {"type": "string"},
        "medium": {"type": ["string", "null"]},
        "campaign": {"type": ["string", "null"]},
        "term": {"type": ["string", "null"]},
        "content": {"type": ["string", "null"]},
        "referrer_host": {"type": ["string", "null"]},
        "landing_page": {"type": ["string", "null"]},
        "at": {"type": "string", "format": "date-time"},
    },
}

_PURCHASE = {
    "type": "object",
    "required": [
        "id",
        "amount",
        "refunded",
        "net_amount",
        "net_amount_major",
        "currency",
        "purchased_at",
        "status",
        "match_method",
    ],
    "properties": {
        "id": {"type": "integer"},
        "platform": {"type": "string"},
        "platform_purchase_id": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "course_name": {"type": ["string", "null"]},
        "amount": {"type": "integer", "description": "As charged, in the currency's smallest unit."},
        "refunded": {"type": "integer"},
        "net_amount": {"type": "integer"},
        "net_amount_major": {
            "type": "string",
            "description": 'The net amount in major units with the currency\'s decimals, e.g. "1234.00".',
        },
        "currency": {"type": "string"},
        "purchased_at": {"type": "string", "format": "date-time"},
        "status": {
            "type": "string",
            "enum": ["matched", "unmatched", "erased"],
            "description": "erased: the buyer asked to be erased; the sale counts in the totals as unmatched.",
        },
        "match_method": {
            "type": ["string", "null"],
            "enum": ["visitor_id", "email", "recipient_email", "fingerprint", None],
        },
        "match_confidence": {
            "type": ["integer", "null"],
            "description": "How sure the match is, in percent (docs/attribution.md); null when unmatched.",
        },
        "unmatched_reason": {
            "type": ["string", "null"],
            "description": "Why no visit is linked to an unmatched purchase (no email, no tracked visit, erased).",
        },
        "first_touch": _TOUCH,
        "last_touch": _TOUCH,
    },
}

_SESSION = {
    "type": "object",
    "properties": {
        "visitor_key": {"type": "string", "description": "The browser's tracker id."},
        "started_at": {"type": "string", "format": "date-time"},
        "last_seen_at": {"type": "string", "format": "date-time"},
        **{k: v for k, v in _TOUCH["properties"].items() if k != "at"},
    },
}

_SUBSCRIPTION_NEEDED = {
    "description": "The free trial or the subscription has ended: subscribe on the Billing page. Data is kept.",
    "content": _json(_ERROR),
}

_AUTH_ERRORS = {
    "400": {"description": "Bad parameter; the error says which values are allowed.", "content": _json(_ERROR)},
    "401": {"description": "No valid token or session.", "content": _json(_ERROR)},
    "402": _SUBSCRIPTION_NEEDED,
}
_CSV = {"text/csv": {"schema": {"type": "string"}}}
_SECURITY = [{"bearer": []}, {"session": []}]

_PERSON_EXPORT = {
    "type": "object",
    "required": ["kind", "exported_at", "emails", "visitor_ids", "tables"],
    "properties": {
        "kind": {"type": "string", "enum": ["coursesignal.person_export"]},
        "exported_at": {"type": "string", "format": "date-time"},
        "emails": {"type": "array", "items": {"type": "string"}},
        "visitor_ids": {"type": "array", "items": {"type": "string"}},
        "tables": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "object"}}},
    },
}

# Text a tracker sends: anything but NUL and unpaired surrogates, which no page has and PostgreSQL cannot store.
_NO_NUL = "^[^\\u0000\\ud800-\\udfff]*$"

_COLLECT_EVENT = {
    "type": "object",
    "required": ["s", "n", "i", "u"],
    "properties": {
        "s": {
            "type": "string",
            "minLength": 1,
            "maxLength": 40,
            "pattern": _NO_NUL,
            "description": "The site key from the snippet's data-site.",
        },
        "n": {"type": "string", "enum": ["pageview", "identify", "click"]},
        "i": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]{8,64}$",
            "description": "Client event id; repeats are stored once.",
        },
        "v": {
            "type": "string",
            "pattern": "^(?!d-)[A-Za-z0-9_-]{8,64}$",
            "description": "The visitor id the tracker keeps. Left out when the browser can keep none: the server "
            "then derives a pseudonymous id for the day from the User-Agent header and the network (weaker for "
            "matching); without a User-Agent the event is refused. Ids starting with 'd-' are refused.",
        },
        "u": {
            "type": "string",
            "maxLength": 2000,
            # http(s) only, a host name (the last label of a dotted one at least two characters), an optional
            # port, then printable characters: what the server accepts, narrowed to plain ASCII.
            "pattern": "^https?://(?:[A-Za-z0-9]{1,20}\\.)*[A-Za-z0-9]{2,20}(?::[1-9][0-9]{0,3})?(?:[/?][!-~]*)?$",
            "description": "The page URL (http or https).",
        },
        "r": {"type": ["string", "null"], "maxLength": 2000, "pattern": _NO_NUL, "description": "document.referrer"},
        "t": {"type": ["string", "null"], "maxLength": 300, "pattern": _NO_NUL, "description": "document.title"},
        "e": {
            "type": ["string", "null"],
            "maxLength": 254,
            "pattern": "^[!-?A-~]{1,64}@[!-?A-~]+\\.[!-?A-~]{2,}$",
            "description": "The email (printable, no spaces): required by identify events, ignored by others.",
        },
    },
    # An identify event names who the visitor is.
    "if": {"properties": {"n": {"const": "identify"}}, "required": ["n"]},
    "then": {"required": ["e"], "properties": {"e": {"type": "string"}}},
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
        "reason": {
            "type": ["string", "null"],
            "description": "What needs attention and what to do, or why reading the platform fails and since when.",
        },
        "sync_health": {
            "type": "object",
            "description": "Whether reading the platform (the periodic poll, a sync's retries) keeps failing.",
            "properties": {
                "failing": {"type": "boolean"},
                "error": {"type": ["string", "null"], "description": "The last failure, in the creator's words."},
                "since": {"type": ["string", "null"], "format": "date-time"},
            },
        },
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
    "400": {
        "description": "A wrong signature, or a body that is not a delivery this webhook understands; `reason` "
        "says which. Stored nowhere.",
        "content": _json(_ERROR),
    },
    "404": {"description": "Unknown connection or wrong URL token: stored nowhere.", "content": _json(_ERROR)},
    "410": {"description": "The connection was disconnected: remove the webhook.", "content": _json(_ERROR)},
    "413": {"description": "Body larger than 1 MiB.", "content": _json(_ERROR)},
    "503": {
        "description": "The platform's API, needed to read it, failed: send it again later.",
        "content": _json(_ERROR),
    },
}


DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "CourseSignal",
        "version": "1.0.0",
        "description": "Revenue attribution for course creators. Money is an integer in the currency's smallest unit. "
        "Every answer carries an X-Request-ID header (a sane one sent with the request is kept): quote it to support.",
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
                    "204": {
                        "description": (
                            "Accepted: stored for the ingestion pipeline, which runs on it within moments (or "
                            "dropped as a bot or a repeat)."
                        )
                    },
                    "400": {"description": "Malformed event; the body says why.", "content": _TEXT_REASON},
                    "404": {"description": "Unknown site key; nothing stored.", "content": _TEXT_REASON},
                    "413": {"description": "Body too large.", "content": _TEXT_REASON},
                    "429": {
                        "description": "Too many events from this sender or for this site; retry after Retry-After.",
                        "content": _TEXT_REASON,
                    },
                    "503": {
                        "description": "The event could not be stored (database unavailable); nothing was kept.",
                        "content": _TEXT_REASON,
                    },
                },
            }
        },
        "/api/v1/reports/sources": {
            "get": {
                "summary": "Revenue by source",
                "security": [{"bearer": []}, {"session": []}],
                "parameters": [*_REPORT_PARAMETERS, _GROUP_PARAMETER, _SORT_PARAMETER],
                "responses": {
                    "200": {
                        "description": "The report.",
                        "content": _json(
                            {
                                "type": "object",
                                "required": ["range", "model", "currency", "rows", "unmatched"],
                                "properties": {
                                    "range": {"type": "string"},
                                    "from": {
                                        "type": "string",
                                        "format": "date",
                                        "description": "A custom range's first day.",
                                    },
                                    "to": {
                                        "type": "string",
                                        "format": "date",
                                        "description": "A custom range's last day.",
                                    },
                                    "model": {"type": "string"},
                                    "currency": {"type": "string"},
                                    "group": {"type": "string"},
                                    "sort": {"type": "string"},
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
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/v1/reports/sources.csv": {
            "get": {
                "summary": "Revenue by source as CSV, in human units",
                "security": [{"bearer": []}, {"session": []}],
                "parameters": [*_REPORT_PARAMETERS, _GROUP_PARAMETER, _SORT_PARAMETER],
                "responses": {
                    "200": {
                        "description": "Streamed CSV with header Source,Visitors,Revenue,Students,Conversion %,"
                        "Avg Order Value,Revenue/Visitor (Channel or Campaign first when grouped so), then an "
                        "Unmatched row when purchases were not matched. The file name ends with the ISO date.",
                        "content": _CSV,
                    },
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/v1/reports/summary": {
            "get": {
                "summary": "Revenue, its trend, average order value, match rate and revenue per day",
                "security": _SECURITY,
                "parameters": _RANGE_PARAMETERS,
                "responses": {
                    "200": {
                        "description": "Ranges are whole UTC days ending today; the trend compares with the "
                        "period of equal length just before (null for all time or when that period had no revenue).",
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "range": {"type": "string"},
                                    "from": {
                                        "type": "string",
                                        "format": "date",
                                        "description": "A custom range's first day.",
                                    },
                                    "to": {
                                        "type": "string",
                                        "format": "date",
                                        "description": "A custom range's last day.",
                                    },
                                    "currency": {"type": "string"},
                                    "since": {"type": ["string", "null"], "format": "date-time"},
                                    "until": {"type": "string", "format": "date-time"},
                                    "revenue": {"type": "integer", "description": "Net of refunds."},
                                    "previous_revenue": {"type": ["integer", "null"]},
                                    "trend_percent": {"type": ["number", "null"]},
                                    "purchases": {"type": "integer"},
                                    "matched_purchases": {"type": "integer"},
                                    "match_rate": {"type": ["number", "null"]},
                                    "avg_order_value": {"type": ["integer", "null"]},
                                    "daily": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "date": {"type": "string", "format": "date"},
                                                "revenue": {"type": "integer"},
                                                "purchases": {"type": "integer"},
                                            },
                                        },
                                    },
                                },
                            }
                        ),
                    },
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/v1/reports/sources/{source}": {
            "get": {
                "summary": (
                    "One source's mediums, campaigns, landing pages and raw utm_source values, "
                    "and the purchases credited to it"
                ),
                "security": _SECURITY,
                "parameters": [
                    {"name": "source", "in": "path", "required": True, "schema": {"type": "string"}},
                    *_REPORT_PARAMETERS,
                    _SORT_PARAMETER,
                ],
                "responses": {
                    "200": {
                        "description": "The drill-down; purchases are the 50 newest credited in the range.",
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "source": {"type": "string"},
                                    "range": {"type": "string"},
                                    "from": {
                                        "type": "string",
                                        "format": "date",
                                        "description": "A custom range's first day.",
                                    },
                                    "to": {
                                        "type": "string",
                                        "format": "date",
                                        "description": "A custom range's last day.",
                                    },
                                    "model": {"type": "string"},
                                    "currency": {"type": "string"},
                                    "sort": {"type": "string"},
                                    "mediums": {"type": "array", "items": _BREAKDOWN_ROW},
                                    "campaigns": {"type": "array", "items": _BREAKDOWN_ROW},
                                    "landing_pages": {"type": "array", "items": _BREAKDOWN_ROW},
                                    "tagged_as": {
                                        "type": "array",
                                        "items": _BREAKDOWN_ROW,
                                        "description": (
                                            "Tagged as: the utm_source values, as the links carried them "
                                            "(yt, YouTube), that were named this source; "
                                            "(not tagged) for arrivals without one."
                                        ),
                                    },
                                    "purchases": {"type": "array", "items": _PURCHASE},
                                },
                            }
                        ),
                    },
                    **_AUTH_ERRORS,
                    "404": {"description": "No visitor or purchase of yours came from it.", "content": _json(_ERROR)},
                },
            }
        },
        "/api/v1/reports/sources/{source}/{table}.csv": {
            "get": {
                "summary": "One table of a source's drill-down as CSV, in human units",
                "security": _SECURITY,
                "parameters": [
                    {"name": "source", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "table",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "enum": ["mediums", "campaigns", "landing_pages", "tagged_as", "purchases"],
                        },
                    },
                    *_REPORT_PARAMETERS,
                    _SORT_PARAMETER,
                ],
                "responses": {
                    "200": {"description": "Streamed CSV; the file name ends with the ISO date.", "content": _CSV},
                    **_AUTH_ERRORS,
                    "404": {"description": "Unknown source or table.", "content": _json(_ERROR)},
                },
            }
        },
        "/api/v1/purchases": {
            "get": {
                "summary": "The newest purchases, with attribution status, how each was matched and both touches",
                "security": _SECURITY,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "Every currency, each purchase in its own.",
                        "content": _json(
                            {"type": "object", "properties": {"purchases": {"type": "array", "items": _PURCHASE}}}
                        ),
                    },
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/v1/purchases/{id}": {
            "get": {
                "summary": "One purchase with the buyer's whole session history",
                "security": _SECURITY,
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "200": {
                        "description": "The purchase, and every session of the browser it was matched to and of "
                        "every browser that identified with the buyer's email, oldest first.",
                        "content": _json(
                            {
                                "allOf": [
                                    _PURCHASE,
                                    {
                                        "type": "object",
                                        "properties": {"sessions": {"type": "array", "items": _SESSION}},
                                    },
                                ]
                            }
                        ),
                    },
                    "401": _AUTH_ERRORS["401"],
                    "404": {"description": "No purchase with this id in your account.", "content": _json(_ERROR)},
                },
            }
        },
        "/api/v1/privacy/export": {
            "get": {
                "summary": "Everything stored about one student (a data subject access request), as JSON",
                "security": _SECURITY,
                "parameters": [
                    {"name": "email", "in": "query", "schema": {"type": "string", "format": "email"}},
                    {
                        "name": "visitor_id",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "Instead of email: the id the tracker keeps in the browser's _csv cookie.",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The person's emails and visitor ids, and every stored row about them by table "
                        "(visitors, sessions, events, visitor_emails, visitor_handoffs, checkout_reaches, purchases, "
                        "refunds, attributions, purchase_touches, revenue_lines).",
                        "content": _json(_PERSON_EXPORT),
                    },
                    "400": {"description": "Neither or both of email and visitor_id.", "content": _json(_ERROR)},
                    "401": _AUTH_ERRORS["401"],
                    "404": {"description": "Nothing is stored about this person.", "content": _json(_ERROR)},
                },
            }
        },
        "/api/v1/privacy/erase": {
            "post": {
                "summary": "Erase one student: visits, events and identities go; their purchases lose the buyer",
                "description": "Bearer token only (a session cookie is refused). Purchases stay in the revenue "
                "totals with status erased; purchases the erased visits took part in are attributed again.",
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": _json(
                        {
                            "type": "object",
                            "description": "Exactly one of email and visitor_id.",
                            "properties": {
                                "email": {"type": "string", "format": "email"},
                                "visitor_id": {"type": "string"},
                            },
                        }
                    ),
                },
                "responses": {
                    "200": {
                        "description": "What was erased, in counts; request_id names the erasure in the log.",
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "request_id": {"type": "string"},
                                    "visitors_erased": {"type": "integer"},
                                    "purchases_detached": {"type": "integer"},
                                    "purchases_reattributed": {"type": "integer"},
                                    "deliveries_redacted": {
                                        "type": "integer",
                                        "description": "Raw platform deliveries the person was erased from.",
                                    },
                                },
                            }
                        ),
                    },
                    "400": {"description": "Neither or both of email and visitor_id.", "content": _json(_ERROR)},
                    "401": _AUTH_ERRORS["401"],
                },
            }
        },
        "/api/v1/privacy/account": {
            "get": {
                "summary": "Everything held for your own account, as JSON (secrets left out)",
                "security": _SECURITY,
                "responses": {
                    "200": {
                        "description": "The account, its sites, connections, billing state, purchases and their "
                        "attribution by table, and how many visitor-level rows it holds.",
                        "content": _json({"type": "object"}),
                    },
                    "401": _AUTH_ERRORS["401"],
                },
            }
        },
        "/healthz": {"get": {"summary": "The process is up", "responses": {"200": {"description": "Up."}}}},
        "/readyz": {
            "get": {
                "summary": "Database and, when configured, Redis, the scheduler and the queue; what waits",
                "description": (
                    'JSON {"status": "ok"|"degraded"|"unavailable", "checks": {"database": {"status"}, '
                    '"tracker_backlog": {"status", "waiting", "oldest_seconds"}, "webhook_backlog": {"status", '
                    '"waiting", "overdue", "oldest_overdue_seconds"}, and with Redis: "redis": {"status"}, '
                    '"scheduler": {"status", "last_beat_seconds"}, "queue": {"status", "waiting", '
                    '"oldest_seconds"}}}. Each check\'s status is "ok", "degraded" (serving, but a part is behind '
                    'or missing) or "unavailable". 503 only when the database is.'
                ),
                "responses": {
                    "200": {"description": "Ready (possibly degraded: see checks)."},
                    "503": {"description": "The database is unreachable."},
                },
            }
        },
        "/billing/webhook": {
            "post": {
                "summary": "Stripe's events about CourseSignal's own billing (not creators' sales)",
                "description": (
                    "Signed by Stripe (Stripe-Signature, checked on the raw body, 5 minutes' tolerance). Handles "
                    "checkout.session.completed, customer.subscription.created/updated/deleted/trial_will_end, "
                    "invoice.paid, invoice.payment_failed and invoice.payment_action_required; other types are "
                    "acknowledged and ignored, as are repeated event ids."
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
                                        "enum": [
                                            "applied",
                                            "unchanged",
                                            "duplicate",
                                            "ignored",
                                            "unknown_customer",
                                            "second_subscription_canceled",
                                        ],
                                    },
                                },
                            }
                        ),
                    },
                    "400": {
                        "description": "Forged or stale signature, or a body that is not a Stripe event (each with "
                        "its own error sentence); nothing changed.",
                        "content": _json(_ERROR),
                    },
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
    },
}


@blueprint.get("/openapi.json")
def document() -> Any:
    return jsonify(DOCUMENT)
