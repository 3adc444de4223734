"""The OpenAPI document of CourseSignal's public HTTP contracts, served at /openapi.json.

Nothing here describes an operation: each view declares its own (adapters/web/contract.py), with the
marshmallow schemas it loads its request and dumps its answer with, and the document is written from them."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify
from marshmallow import Schema

from adapters.web.contract import Answer, JsonSchema, Operation, operations_of, routes

blueprint = Blueprint("openapi", __name__)

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
    declared = [(rule, op) for rule, view in routes(app) for op in operations_of(view)]
    for _, op in declared:
        # What a schema says beyond its fields (JSON Schema's if/then), in its component.
        if isinstance(op.body, type) and hasattr(op.body, "OPENAPI_EXTRA"):
            spec.components.schema(op.body.__name__.removesuffix("Schema"), op.body.OPENAPI_EXTRA, schema=op.body)
    for rule, op in declared:
        for method in sorted((rule.methods or set()) - _IMPLICIT_METHODS):
            spec.path(path=op.path or _path(rule.rule), operations={method.lower(): _operation(op, rule.rule)})
    return spec.to_dict()


@blueprint.get("/openapi.json")
def document() -> Any:
    built = current_app.extensions.get("coursesignal.openapi")
    if built is None:
        built = current_app.extensions["coursesignal.openapi"] = build_document(current_app)
    return jsonify(built)
