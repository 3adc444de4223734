"""JSON:API plumbing shared by every list endpoint of the fake.

Mirrors the behaviour described in the Kajabi Public API spec for list endpoints:

* pagination with ``page[number]`` / ``page[size]`` and absolute ``links.{self,first,prev,next,last}``
  plus ``meta.{total_pages,total_count,current_page}`` (spec, `GET /v1/hooks` description);
* Ransack-style filters ``filter[<attribute>_<op>]`` with ops ``eq, cont, not_eq, not_cont, gt, gte,
  lt, lte, start, end`` (spec, `GET /v1/purchases` / `GET /v1/blog_posts` descriptions);
* ``sort=attr`` / ``sort=-attr``; sparse fieldsets ``fields[<type>]=a,b``; ``include=a,b``;
* error documents ``{"errors":[{"status","title","detail","source"?}]}`` (`errors_attributes`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from .models import JsonDict, parse_time

T = TypeVar("T")

#: Longest suffixes first so ``not_eq`` wins over ``eq`` and ``gte`` over ``gt``.
FILTER_OPS: tuple[str, ...] = ("not_cont", "not_eq", "start", "cont", "gte", "lte", "end", "eq", "gt", "lt")

JSON_API = "application/vnd.api+json"


def error_document(status: int, title: str, detail: str | None = None, pointer: str | None = None) -> JsonDict:
    """A JSON:API error document as in `errors_unauthorized` / `errors_forbidden` / `errors_not_found`."""
    error: JsonDict = {"status": str(status), "title": title}
    if detail is not None:
        error["detail"] = detail
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    return {"errors": [error]}


def bracket_params(query: dict[str, str], prefix: str) -> dict[str, str]:
    """``{"filter[site_id]": "1"}`` → ``{"site_id": "1"}`` for ``prefix="filter"``."""
    start = prefix + "["
    return {key[len(start) : -1]: value for key, value in query.items() if key.startswith(start) and key.endswith("]")}


def split_filter(key: str) -> tuple[str, str] | None:
    """``"created_at_gte"`` → ``("created_at", "gte")``; ``None`` when no known op suffix."""
    for op in FILTER_OPS:
        if key.endswith("_" + op):
            return key[: -len(op) - 1], op
    return None


def _coerce_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and value[7:8] == "-":
        try:
            return parse_time(value)
        except ValueError:
            return None
    return None


def compare(actual: Any, op: str, expected: str) -> bool:
    """Evaluate one Ransack-style predicate against an attribute value."""
    if op in ("cont", "not_cont", "start", "end"):
        haystack, needle = ("" if actual is None else str(actual)).lower(), expected.lower()
        result = {
            "cont": needle in haystack,
            "not_cont": needle not in haystack,
            "start": haystack.startswith(needle),
            "end": haystack.endswith(needle),
        }[op]
        return result
    if actual is None:
        return op == "not_eq" if expected not in ("", "null") else op == "eq"
    left: Any
    right: Any
    if isinstance(actual, bool):
        left, right = actual, expected.strip().lower() in ("true", "1", "t", "yes")
    elif isinstance(actual, int | float):
        try:
            left, right = actual, float(expected)
        except ValueError:
            return op == "not_eq"
    elif (moment := _coerce_time(actual)) is not None:
        try:
            left, right = moment, parse_time(expected, moment.tzinfo)  # type: ignore[arg-type]
        except ValueError:
            return op == "not_eq"
    else:
        left, right = str(actual), expected
    results: dict[str, bool] = {
        "eq": left == right,
        "not_eq": left != right,
        "gt": left > right,
        "gte": left >= right,
        "lt": left < right,
        "lte": left <= right,
    }
    return results[op]


@dataclass(frozen=True)
class ListQuery:
    """The list-related query parameters of one request."""

    filters: dict[str, str]
    sort: str | None
    include: tuple[str, ...]
    fields: dict[str, tuple[str, ...]]
    page_number: int
    page_size: int

    @classmethod
    def parse(cls, query: dict[str, str], *, default_size: int, max_size: int) -> ListQuery:
        def as_int(name: str, default: int) -> int:
            try:
                return int(query.get(name, default))
            except ValueError:
                return default

        return cls(
            filters=bracket_params(query, "filter"),
            sort=query.get("sort") or None,
            include=tuple(part for part in query.get("include", "").split(",") if part),
            fields={k: tuple(v.split(",")) for k, v in bracket_params(query, "fields").items()},
            page_number=max(1, as_int("page[number]", 1)),
            page_size=min(max(1, as_int("page[size]", default_size)), max_size),
        )


class Row(Generic[T]):
    """A record together with its serialised resource (filters read either).

    The resource is built on first use: filters and sorts on native attributes (``created_at``) never
    need it, so a list request serialises only the page it returns, not the whole table.
    """

    def __init__(self, record: T, serialize: Callable[[T], JsonDict]) -> None:
        self.record = record
        self._serialize = serialize
        self._resource: JsonDict | None = None

    @property
    def resource(self) -> JsonDict:
        if self._resource is None:
            self._resource = self._serialize(self.record)
        return self._resource

    def has_attribute(self, name: str) -> bool:
        native = getattr(self.record, name, None)
        if isinstance(native, datetime | int | float | bool | str):
            return True
        return name in self.resource.get("attributes", {})


SpecialFilter = Callable[[Any, str], bool]


def apply_filters(rows: list[Row[T]], filters: dict[str, str], special: Mapping[str, SpecialFilter]) -> list[Row[T]]:
    """Keep rows matching every filter. Unknown filter names are ignored, like Kajabi is observed to do."""
    for name, value in filters.items():
        if name in special:
            predicate = special[name]
            rows = [row for row in rows if predicate(row.record, value)]
            continue
        parsed = split_filter(name)
        if parsed is None:
            continue
        attribute, op = parsed
        rows = [row for row in rows if row.has_attribute(attribute) and compare(_raw(row, attribute), op, value)]
    return rows


def _raw(row: Row[Any], attribute: str) -> Any:
    """Prefer the record's native value (e.g. a datetime) over its serialised form."""
    native = getattr(row.record, attribute, None)
    if isinstance(native, datetime | int | float | bool | str):
        return native
    return row.resource["attributes"][attribute]


def apply_sort(rows: list[Row[T]], sort: str | None) -> list[Row[T]]:
    """Stable multi-key sort for ``sort=a,-b``; ``None`` values sort first (ascending)."""
    if not sort:
        return rows
    for part in reversed([p for p in sort.split(",") if p]):
        descending = part.startswith("-")
        name = part.lstrip("-")

        def key(row: Row[Any], name: str = name) -> tuple[int, Any]:
            value = _raw(row, name) if hasattr(row.record, name) or row.has_attribute(name) else None
            if name == "id":
                record_id = str(getattr(row.record, "id", None) or row.resource["id"])
                value = int(record_id) if record_id.isdigit() else record_id
            return (0, "") if value is None else (1, value)

        rows = sorted(rows, key=key, reverse=descending)
    return rows


def sparse(resource: JsonDict, fields: dict[str, tuple[str, ...]]) -> JsonDict:
    """Apply ``fields[<type>]=a,b`` to one resource."""
    wanted = fields.get(resource["type"])
    if not wanted:
        return resource
    trimmed = dict(resource)
    trimmed["attributes"] = {k: v for k, v in resource.get("attributes", {}).items() if k in wanted}
    return trimmed


def page_links(base_url: str, path: str, query: dict[str, str], number: int, size: int, total_pages: int) -> JsonDict:
    """Absolute pagination links that keep every other query parameter (filters, sort, include)."""
    kept = {k: v for k, v in query.items() if k not in ("page[number]", "page[size]")}

    def url(page: int) -> str:
        params = {**kept, "page[number]": str(page), "page[size]": str(size)}
        return f"{base_url}{path}?{urlencode(params, safe='[],:')}"

    last = max(total_pages, 1)
    return {
        "self": url(number),
        "first": url(1),
        "prev": url(number - 1) if 1 < number <= last + 1 else None,
        "next": url(number + 1) if number < total_pages else None,
        "last": url(last),
    }


def list_document(
    rows: Sequence[Row[Any]],
    *,
    base_url: str,
    path: str,
    query: dict[str, str],
    list_query: ListQuery,
    includer: Callable[[Iterable[Any], tuple[str, ...]], list[JsonDict]] | None = None,
) -> JsonDict:
    """Paginate already-filtered rows into a full JSON:API list document."""
    total = len(rows)
    size, number = list_query.page_size, list_query.page_number
    total_pages = math.ceil(total / size) if total else 0
    window = rows[(number - 1) * size : number * size]
    document: JsonDict = {
        "data": [sparse(row.resource, list_query.fields) for row in window],
        "links": page_links(base_url, path, query, number, size, total_pages),
        "meta": {"total_pages": total_pages, "total_count": total, "current_page": number},
    }
    if includer and list_query.include:
        document["included"] = [
            sparse(r, list_query.fields) for r in includer([row.record for row in window], list_query.include)
        ]
    return document
