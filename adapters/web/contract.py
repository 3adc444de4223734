"""Each HTTP operation declared once, beside its view: the marshmallow schemas of its query, body and answers,
and what it answers when. The same declaration parses the request (a refusal is a 400 naming the parameter)
and writes the operation into the OpenAPI document (adapters/web/openapi.py reads it from the view).
A body schema class may carry OPENAPI_EXTRA, JSON Schema keywords its fields cannot say (if/then): they are
added to its component in the document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, request
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.routing import Rule

# A raw JSON schema, for what marshmallow does not describe (free-form objects, text, CSV).
JsonSchema = Mapping[str, Any]
TEXT: JsonSchema = {"type": "string"}
ANY_OBJECT: JsonSchema = {"type": "object"}

# The security schemes of the reports API (components of the document): a personal API token, or the session.
TOKEN_OR_SESSION = ("bearer", "session")


class Pattern(validate.Regexp):
    """A pattern the whole value must match, as the document's `pattern` means it. marshmallow's Regexp only
    anchors the start, and Python's `$` also matches before a final newline, so "USD\\n" passed ^[A-Z]{3}$."""

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class ErrorSchema(Schema):
    """Every refusal of the JSON API: one sentence saying what was wrong and what is allowed."""

    error = fields.String(required=True)


@dataclass(frozen=True)
class Answer:
    """One documented answer: what it means, and its body (a schema class, a raw JSON schema, or none)."""

    description: str
    schema: type[Schema] | JsonSchema | None = None
    media_type: str = "application/json"


@dataclass(frozen=True)
class Operation:
    summary: str
    answers: Mapping[int, Answer]
    description: str | None = None
    query: type[Schema] | None = None
    # The request body; parsed for the view (as `body=`) unless the view reads its raw bytes itself.
    body: type[Schema] | JsonSchema | None = None
    body_media_types: tuple[str, ...] = ("application/json",)
    parses_body: bool = True
    headers: type[Schema] | None = None  # documented only: the view reads its headers itself
    # The path parameters, when the route's converters do not say enough (an enum, an example).
    path_parameters: type[Schema] | None = None
    security: tuple[str, ...] = ()
    # The documented path, when it is not the route's own: a second path one route answers.
    path: str | None = None


_OPERATIONS = "__openapi_operations__"
F = TypeVar("F", bound=Callable[..., Any])


def operation(summary: str, answers: Mapping[int, Answer], **declared: Any) -> Callable[[F], F]:
    """Declares the view's operation; a declared query reaches the view loaded as `query=`, a body as `body=`.
    Put it under the access decorators: who may ask is settled before what was asked."""
    op = Operation(summary, answers, **declared)
    query_schema = op.query() if op.query else None
    body_schema = op.body() if isinstance(op.body, type) and op.parses_body else None

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if query_schema is not None:
                kwargs["query"] = load_query(query_schema)
            if body_schema is not None:
                kwargs["body"] = _load(body_schema, request.get_json(silent=True))
            return view(*args, **kwargs)

        setattr(wrapper, _OPERATIONS, [op, *operations_of(view)])
        return wrapper  # type: ignore[return-value]

    return decorate


def also_documented(summary: str, answers: Mapping[int, Answer], **declared: Any) -> Callable[[F], F]:
    """Documents an operation at its own `path` and parses nothing: one more path a view's route answers, or
    a route answered in front of Flask (the collect endpoint), which reads its request itself."""
    op = Operation(summary, answers, **declared)
    assert op.path is not None, "also_documented names the path it documents"

    def decorate(view: F) -> F:
        setattr(view, _OPERATIONS, [op, *operations_of(view)])
        return view

    return decorate


# app.extensions key: the routes answered in front of Flask, as (rule, handler) pairs.
FRONT_ROUTES = "coursesignal.front_routes"


def routes(app: Flask) -> list[tuple[Rule, Callable[..., Any]]]:
    """Every route of the app with what answers it: Flask's url map, and the routes answered in front of it."""
    mapped = [(rule, app.view_functions[rule.endpoint]) for rule in app.url_map.iter_rules()]
    return [*mapped, *app.extensions.get(FRONT_ROUTES, [])]


def operations_of(view: Callable[..., Any]) -> list[Operation]:
    """The operations declared on a view, looking through the decorators wrapped around it."""
    current: Any = view
    while current is not None:
        found = getattr(current, _OPERATIONS, None)
        if found is not None:
            return list(found)
        current = getattr(current, "__wrapped__", None)
    return []


def load_query(schema: Schema) -> Any:
    """The query string loaded by the schema: a parameter given twice, or a bad value, is a 400 saying so.
    Parameters the schema does not name are ignored, as a browser's extras (utm tags on a shared link) are."""
    names = [f.data_key or name for name, f in schema.load_fields.items()]
    for name in names:
        if len(request.args.getlist(name)) > 1:
            abort(400, description=f"{name} may be given only once")
    return _load(schema, {name: request.args[name] for name in names if name in request.args})


def _load(schema: Schema, data: Any) -> Any:
    try:
        return schema.load(data)
    except ValidationError as error:
        abort(400, description=_first_problem(schema, error))


def _first_problem(schema: Schema, error: ValidationError) -> str:
    """The first problem, in the schema's field order: each message is a whole sentence naming its field."""
    messages = error.normalized_messages()
    for name in [*(f.data_key or n for n, f in schema.load_fields.items()), "_schema", *messages]:
        if name in messages:
            problem = messages[name]
            while isinstance(problem, list | dict):
                problem = next(iter(problem.values() if isinstance(problem, dict) else problem))
            return str(problem)
    return "The request could not be read."
