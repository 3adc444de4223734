"""The OpenAPI document of CourseSignal's public HTTP contracts, served at /openapi.json."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify
from marshmallow import Schema

from adapters.web.collect import MAX_BODY_BYTES
from adapters.web.contract import Answer, JsonSchema, Operation, operations_of

blueprint = Blueprint("openapi", __name__)

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}
_TEXT_REASON = {"text/plain": {"schema": {"type": "string"}}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


_AUTH_ERRORS = {"401": {"description": "No valid token or session.", "content": _json(_ERROR)}}
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


# The paths not yet declared beside their views; merged into the generated document.
_LEGACY_PATHS: dict[str, Any] = {
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
            "parameters": [{"name": "connection_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {
                "200": {"description": "The connection.", "content": _json(_CONNECTION)},
                "401": {"description": "No valid token or session.", "content": _json(_ERROR)},
                "404": {"description": "No such connection on this account.", "content": _json(_ERROR)},
            },
        }
    },
}


# --- the document, written from the operations declared beside the views (adapters/web/contract.py) ------

_DESCRIPTION = (
    "Revenue attribution for course creators. Money is an integer in the currency's smallest unit. Every answer "
    "carries an X-Request-ID header (a sane one sent with the request is kept): quote it to support."
)
_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "A personal API token."},
    "session": {"type": "apiKey", "in": "cookie", "name": "session"},
}
# <int:purchase_id>, <path:source>, <platform>: the converter (if any) and the name of a route's argument.
_ROUTE_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})


def _path(rule: str) -> str:
    return _ROUTE_ARGUMENT.sub(r"{\2}", rule)


def _schema(schema: type[Schema] | JsonSchema) -> type[Schema] | dict[str, Any]:
    return schema if isinstance(schema, type) else dict(schema)


def _answer(answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"description": answer.description}
    if answer.schema is not None:
        out["content"] = {answer.media_type: {"schema": _schema(answer.schema)}}
    return out


def _operation(op: Operation, rule: str) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": op.summary}
    if op.description:
        out["description"] = op.description
    if op.security:
        out["security"] = [{name: []} for name in op.security]
    parameters: list[dict[str, Any]] = []
    if op.path_parameters is not None:
        parameters.append({"in": "path", "schema": op.path_parameters})
    else:
        parameters += [
            {"name": name, "in": "path", "required": True, "schema": {"type": "integer" if kind == "int" else "string"}}
            for kind, name in _ROUTE_ARGUMENT.findall(rule)
        ]
    if op.headers is not None:
        parameters.append({"in": "header", "schema": op.headers})
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {media_type: {"schema": _schema(op.body)} for media_type in op.body_media_types},
        }
    out["responses"] = {str(code): _answer(answer) for code, answer in op.answers.items()}
    return out


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of every operation a view of the app declares."""
    spec = APISpec(
        title="CourseSignal",
        version="1.0.0",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": _DESCRIPTION},
    )
    for name, scheme in _SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for rule in app.url_map.iter_rules():
        for op in operations_of(app.view_functions[rule.endpoint]):
            for method in sorted((rule.methods or set()) - _IMPLICIT_METHODS):
                spec.path(path=op.path or _path(rule.rule), operations={method.lower(): _operation(op, rule.rule)})
    document = spec.to_dict()
    document["paths"].update(_LEGACY_PATHS)
    return document


@blueprint.get("/openapi.json")
def document() -> Any:
    built = current_app.extensions.get("coursesignal.openapi")
    if built is None:
        built = current_app.extensions["coursesignal.openapi"] = build_document(current_app)
    return jsonify(built)
