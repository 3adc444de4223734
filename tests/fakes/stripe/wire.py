"""Stripe's wire format: form bodies in bracket notation, list objects, and error bodies."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl


class StripeApiError(Exception):
    """Answered as Stripe answers: an HTTP status and `{"error": {...}}`."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = "invalid_request_error"

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
        return {"error": error}


def missing(kind: str, object_id: str, param: str = "id") -> StripeApiError:
    return StripeApiError(404, f"No such {kind}: '{object_id}'", param=param, code="resource_missing")


def invalid(param: str, message: str) -> StripeApiError:
    return StripeApiError(400, message, param=param, code="parameter_invalid")


def _path(key: str) -> list[str]:
    """`line_items[0][price]` -> ["line_items", "0", "price"]; `expand[]` -> ["expand", ""]."""
    head, bracket, rest = key.partition("[")
    parts = [head]
    while bracket:
        inner, _, rest = rest.partition("]")
        parts.append(inner)
        _, bracket, rest = rest.partition("[")
    return parts


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        keys = list(converted)
        if keys and all(k.isdigit() for k in keys) and sorted(int(k) for k in keys) == list(range(len(keys))):
            return [converted[str(i)] for i in range(len(keys))]
        return converted
    if isinstance(value, list):
        return [_listify(v) for v in value]
    return value


def decode_params(encoded: str) -> dict[str, Any]:
    """A form-encoded (or query) string in Stripe's bracket notation, as nested dicts and lists of strings."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(encoded, keep_blank_values=True, strict_parsing=False):
        parts = _path(key)
        node: Any = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":  # `a[]=x`: append to a list
                raise StripeApiError(400, f"Invalid array: {key}", param=key)
            if last:
                if isinstance(node, dict):
                    node[part] = value
                continue
            following = parts[depth + 1]
            if following == "" and depth + 1 == len(parts) - 1:
                node.setdefault(part, []).append(value)
                break
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StripeApiError(400, f"Invalid hash: {key}", param=key)
    return _listify(root)  # type: ignore[no-any-return]


def refuse_unknown(params: Mapping[str, Any], allowed: Sequence[str], prefix: str = "") -> None:
    for name in params:
        if name not in allowed:
            raise StripeApiError(400, f"Received unknown parameter: {prefix}{name}", param=f"{prefix}{name}")


def as_int(params: Mapping[str, Any], name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = params[name]
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise invalid(name, f"Invalid integer: {raw}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise invalid(name, f"{name} must be between {minimum} and {maximum}")
    return value


def as_bool(params: Mapping[str, Any], name: str) -> bool:
    raw = params[name]
    if raw not in ("true", "false"):
        raise invalid(name, f"Invalid boolean: {raw}")
    return raw == "true"


def _created_matches(created: int, condition: Any) -> bool:
    if isinstance(condition, str):
        return created == int(condition)
    tests: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    for operator, bound in condition.items():
        if operator not in tests:
            raise StripeApiError(400, f"Received unknown parameter: created[{operator}]", param=f"created[{operator}]")
        if not tests[operator](created, int(bound)):
            return False
    return True


def list_page(url: str, items: Sequence[dict[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    """A Stripe list object: newest first, `limit` (1..100, default 10), `starting_after`/`ending_before`."""
    ordered = list(items)
    if "created" in params:
        ordered = [item for item in ordered if _created_matches(item["created"], params["created"])]
    limit = as_int(params, "limit", minimum=1, maximum=100) if "limit" in params else 10
    ids = [item["id"] for item in ordered]
    if "starting_after" in params:
        cursor = params["starting_after"]
        if cursor not in ids:
            raise missing("object", cursor, "starting_after")
        ordered = ordered[ids.index(cursor) + 1 :]
        page = ordered[:limit]
        has_more = len(ordered) > limit
    elif "ending_before" in params:
        cursor = params["ending_before"]
        if cursor not in ids:
            raise missing("object", cursor, "ending_before")
        ordered = ordered[: ids.index(cursor)]
        page = ordered[-limit:]
        has_more = len(ordered) > limit
    else:
        page = ordered[:limit]
        has_more = len(ordered) > limit
    return {"object": "list", "url": url, "has_more": has_more, "data": page}
