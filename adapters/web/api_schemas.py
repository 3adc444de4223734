"""The reports API's schemas: the query parameters it reads and the JSON it answers, declared once. The views
load their parameters and dump their answers with them, and the OpenAPI document is written from them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, post_load, validate

from adapters.web.contract import Answer, ErrorSchema, Pattern
from core.domain.attribution import Model
from core.domain.money import Money
from core.domain.purchases import MatchMethod
from core.domain.reports import (
    DAY_FORMAT_PROBLEM,
    CustomRange,
    Grouping,
    ReportRange,
    SortColumn,
    SortOrder,
    parse_day,
    parse_period,
)

# --- what the reports read ------------------------------------------------------------------------------


def _one_of(name: str, values: list[str]) -> validate.OneOf:
    return validate.OneOf(values, error=f"{name} must be one of {{choices}}")


def _choice(name: str, default: StrEnum, description: str | None = None) -> fields.Enum:
    """A parameter naming a member of the default's enum, by value."""
    return fields.Enum(
        type(default),
        by_value=fields.String,
        load_default=default,
        error_messages={"unknown": f"{name} must be one of {{choices}}"},
        metadata={"description": description} if description else {},
    )


class _Day(fields.Date):
    """A day written YYYY-MM-DD and only so (core's parse_day), as the document's format: date says."""

    default_error_messages: ClassVar[dict[str, str]] = {"invalid": DAY_FORMAT_PROBLEM}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        try:
            return parse_day(value if isinstance(value, str) else "")
        except ValueError:
            raise self.make_error("invalid") from None


class RangeQuery(Schema):
    """The days a report covers and the currency it counts in; loads as {"period", "currency"}."""

    range = fields.String(
        load_default=ReportRange.LAST_30_DAYS.value,
        validate=_one_of("range", [*(r.value for r in ReportRange), CustomRange.value]),
        metadata={
            "description": "Whole UTC days ending today, or `custom` from `from` to `to` (UTC days, both included; "
            "with only one of them, the 30 days from or up to it; with neither, the last 30 days). The response "
            "names a custom range with its `from` and `to` days."
        },
    )
    currency = fields.String(
        validate=Pattern("^[A-Za-z]{3}$", error="currency must be a three-letter ISO 4217 code"),
        metadata={
            "description": "Defaults to the account's currency with the most purchases. Currencies are never summed."
        },
    )
    first = _Day(
        data_key="from",
        metadata={"example": "2026-11-01", "description": "With range=custom: the first day, YYYY-MM-DD (UTC)."},
    )
    last = _Day(
        data_key="to",
        metadata={
            "example": "2026-11-01",
            "description": "With range=custom: the last day, included. A range longer than 3660 days keeps its "
            "last 3660.",
        },
    )

    @post_load
    def _period(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        first, last = data.pop("first", None), data.pop("last", None)
        try:
            data["period"] = parse_period(data.pop("range"), first and first.isoformat(), last and last.isoformat())
        except ValueError as error:
            raise ValidationError(str(error), "range") from None
        currency = data.get("currency")
        data["currency"] = currency.upper() if currency else None
        return data


class ReportQuery(RangeQuery):
    """A report of sources' lines: adds the attribution model and the order of the lines."""

    model = _choice("model", Model.FIRST_TOUCH)
    sort = fields.String(
        load_default="-revenue",
        validate=Pattern(
            f"^-?({'|'.join(column.value for column in SortColumn)})$",
            error=f"sort must be one of {', '.join(column.value for column in SortColumn)}, with a leading '-' "
            "for descending",
        ),
        metadata={
            "description": "A column; a leading '-' sorts descending. Rows without a value (no visitors) always go "
            "last."
        },
    )

    @post_load
    def _sort(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["sort"] = SortOrder.parse(data["sort"])
        return data


class SourcesQuery(ReportQuery):
    group = _choice(
        "group",
        Grouping.SOURCE,
        "What the rows are. With channel or campaign, `source` holds the channel or campaign name.",
    )


class PurchasesQuery(Schema):
    limit = fields.Integer(
        load_default=50,
        strict=False,
        validate=validate.Range(1, 200, error="limit must be a whole number from 1 to 200"),
        error_messages={"invalid": "limit must be a whole number from 1 to 200"},
    )


# --- what the reports answer ----------------------------------------------------------------------------


class Instant(fields.DateTime):
    """A moment in UTC as the API writes it: ISO 8601 ending in Z."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else value.isoformat().replace("+00:00", "Z")


class _Ranged(Schema):
    """The range a report covers, as the request named it: a custom one also says its first and last day."""

    range = fields.String(attribute="range.value", required=True)
    first = fields.Date(
        attribute="range.first", data_key="from", metadata={"description": "A custom range's first day."}
    )
    last = fields.Date(attribute="range.last", data_key="to", metadata={"description": "A custom range's last day."})
    currency = fields.String(required=True)


class _Line(Schema):
    """One row of a report: a source, or a medium, campaign or landing page of one."""

    visitors = fields.Integer(attribute="totals.visitors", required=True)
    revenue = fields.Integer(
        attribute="totals.revenue",
        required=True,
        metadata={"description": "Net of refunds, in the currency's smallest unit."},
    )
    students = fields.Integer(attribute="totals.students", required=True, metadata={"description": "Distinct buyers."})
    purchases = fields.Integer(attribute="totals.purchases", required=True)
    conversion_rate = fields.Float(allow_none=True, required=True, metadata={"description": "students / visitors"})
    avg_order_value = fields.Integer(allow_none=True, required=True)
    revenue_per_visitor = fields.Integer(allow_none=True, required=True)


class SourceRowSchema(_Line):
    source = fields.String(attribute="label", required=True, metadata={"example": "YouTube"})
    channel = fields.String(attribute="totals.channel", required=True, metadata={"example": "Organic Video"})


class BreakdownRowSchema(_Line):
    name = fields.String(
        attribute="label", required=True, metadata={"description": "The medium, campaign or landing page."}
    )


class UnmatchedSchema(Schema):
    revenue = fields.Integer()
    purchases = fields.Integer()


class SourcesReportSchema(_Ranged):
    model = fields.Enum(Model, by_value=fields.String, required=True)
    group = fields.Enum(Grouping, by_value=fields.String)
    sort = fields.String()
    rows = fields.List(fields.Nested(SourceRowSchema), attribute="lines", required=True)
    unmatched = fields.Nested(UnmatchedSchema, required=True)


class DaySchema(Schema):
    date = fields.Date(attribute="day")
    revenue = fields.Integer()
    purchases = fields.Integer()


class SummarySchema(_Ranged):
    since = Instant(allow_none=True)
    until = Instant()
    revenue = fields.Integer(attribute="summary.revenue", metadata={"description": "Net of refunds."})
    previous_revenue = fields.Integer(attribute="summary.previous_revenue", allow_none=True)
    trend_percent = fields.Float(attribute="summary.trend_percent", allow_none=True)
    purchases = fields.Integer(attribute="summary.purchases")
    matched_purchases = fields.Integer(attribute="summary.matched_purchases")
    match_rate = fields.Float(attribute="summary.match_rate", allow_none=True)
    avg_order_value = fields.Integer(attribute="summary.avg_order_value", allow_none=True)
    daily = fields.List(fields.Nested(DaySchema), attribute="summary.daily")


class TouchSchema(Schema):
    source = fields.String()
    channel = fields.String()
    medium = fields.String(allow_none=True)
    campaign = fields.String(allow_none=True)
    term = fields.String(allow_none=True)
    content = fields.String(allow_none=True)
    referrer_host = fields.String(allow_none=True)
    landing_page = fields.String(allow_none=True)
    at = Instant(attribute="occurred_at")


class _NetMajor(fields.String):
    """The net amount in major units, written from the purchase's amount and currency."""

    _CHECK_ATTRIBUTE = False

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        read = self.parent.get_attribute  # type: ignore[union-attr]
        return Money(read(obj, "net_amount", None), read(obj, "currency", None)).format_major()


class PurchaseSchema(Schema):
    id = fields.Integer(required=True)
    platform = fields.String()
    platform_purchase_id = fields.String()
    email = fields.String(allow_none=True)
    course_name = fields.String(allow_none=True)
    amount = fields.Integer(required=True, metadata={"description": "As charged, in the currency's smallest unit."})
    refunded = fields.Integer(required=True)
    net_amount = fields.Integer(required=True)
    net_amount_major = _NetMajor(
        required=True,
        metadata={"description": 'The net amount in major units with the currency\'s decimals, e.g. "1234.00".'},
    )
    currency = fields.String(required=True)
    purchased_at = Instant(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(["matched", "unmatched", "erased"]),
        metadata={"description": "erased: the buyer asked to be erased; the sale counts in the totals as unmatched."},
    )
    match_method = fields.String(
        required=True, allow_none=True, validate=validate.OneOf([method.value for method in MatchMethod])
    )
    match_confidence = fields.Integer(
        allow_none=True,
        metadata={"description": "How sure the match is, in percent (docs/attribution.md); null when unmatched."},
    )
    unmatched_reason = fields.String(
        allow_none=True,
        metadata={
            "description": "Why no visit is linked to an unmatched purchase (no email, no tracked visit, erased)."
        },
    )
    first_touch = fields.Nested(TouchSchema, allow_none=True)
    last_touch = fields.Nested(TouchSchema, allow_none=True)


class SessionSchema(TouchSchema):
    """A session of the buyer's: the browser, when, and the touch that started it (its fields, without `at`)."""

    class Meta:
        exclude = ("at",)

    visitor_key = fields.String(metadata={"description": "The browser's tracker id."})
    started_at = Instant()
    last_seen_at = Instant()

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        own = attr in ("visitor_key", "started_at", "last_seen_at")
        return super().get_attribute(obj if own else obj.touch, attr, default)


class PurchaseDetailSchema(PurchaseSchema):
    """The purchase, with every session of the buyer's."""

    sessions = fields.List(fields.Nested(SessionSchema))

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        return super().get_attribute(obj if attr == "sessions" else obj.purchase, attr, default)


class PurchaseListSchema(Schema):
    purchases = fields.List(fields.Nested(PurchaseSchema))


_TAGGED_AS = (
    "Tagged as: the utm_source values, as the links carried them (yt, YouTube), that were named this source; "
    "(not tagged) for arrivals without one."
)


class SourceDetailSchema(_Ranged):
    source = fields.String()
    model = fields.Enum(Model, by_value=fields.String)
    sort = fields.String()
    mediums = fields.List(fields.Nested(BreakdownRowSchema), attribute="tables.medium")
    campaigns = fields.List(fields.Nested(BreakdownRowSchema), attribute="tables.campaign")
    landing_pages = fields.List(fields.Nested(BreakdownRowSchema), attribute="tables.landing_page")
    tagged_as = fields.List(
        fields.Nested(BreakdownRowSchema), attribute="tables.tagged", metadata={"description": _TAGGED_AS}
    )
    purchases = fields.List(fields.Nested(PurchaseSchema))


# --- the refusals every report shares -------------------------------------------------------------------

UNAUTHORIZED = Answer("No valid token or session.", ErrorSchema)
AUTH_ERRORS = {
    400: Answer("Bad parameter; the error says which values are allowed.", ErrorSchema),
    401: UNAUTHORIZED,
    402: Answer(
        "The free trial or the subscription has ended: subscribe on the Billing page. Data is kept.", ErrorSchema
    ),
}
CSV = "text/csv"
