"""The JSON reports API: a session cookie or `Authorization: Bearer <personal API token>`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, abort, g, jsonify, request, stream_with_context
from flask_login import current_user
from marshmallow import Schema, fields, validate

from adapters.web.api_schemas import (
    AUTH_ERRORS,
    CSV,
    UNAUTHORIZED,
    PurchaseDetailSchema,
    PurchaseListSchema,
    PurchasesQuery,
    RangeQuery,
    ReportQuery,
    SourceDetailSchema,
    SourcesQuery,
    SourcesReportSchema,
    SummarySchema,
)
from adapters.web.billing import requires_reports_access
from adapters.web.contract import TEXT, TOKEN_OR_SESSION, Answer, ErrorSchema, also_documented, operation
from adapters.web.usage import count_use
from core.domain.feature_usage import Feature
from core.domain.money import Money
from core.domain.reports import UNMATCHED_LABEL, Breakdown, CustomRange, Grouping, Period, PurchaseRow, SourceLine
from core.ports.clock import Clock
from core.services.accounts import Accounts
from core.services.reports import Reports, SourceDetail, SourceReport, UnknownSource

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


@inject
def _account_from_token(header: str, accounts: Accounts = Provide["services.accounts"]) -> int | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return accounts.account_for_token(token.strip())


def requires_account(view: Callable[..., Any]) -> Callable[..., Any]:
    """Sets g.account_id from the bearer token or the signed-in session, or answers 401."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization")
        if header is not None:
            account_id = _account_from_token(header)
        elif current_user.is_authenticated:
            account_id = int(current_user.id)
        else:
            account_id = None
        if account_id is None:
            response = jsonify(error="Sign in, or send a valid personal API token as 'Authorization: Bearer <token>'.")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="coursesignal"'
            return response
        g.account_id = account_id
        return view(*args, **kwargs)

    return wrapper


@inject
def _source_report(query: dict[str, Any], reports: Reports = Provide["services.reports"]) -> SourceReport:
    return reports.sources(
        g.account_id, query["period"], query["model"], query["currency"], group=query["group"], sort=query["sort"]
    )


def _range_name(period: Period) -> str:
    """The range in a file name: 30d, or 2026-11-01_2026-11-07."""
    if isinstance(period, CustomRange):
        return f"{period.first.isoformat()}_{period.last.isoformat()}"
    return period.value


@blueprint.get("/reports/sources")
@requires_account
@requires_reports_access
@operation(
    "Revenue by source",
    {200: Answer("The report.", SourcesReportSchema), **AUTH_ERRORS},
    query=SourcesQuery,
    security=TOKEN_OR_SESSION,
)
def sources(query: dict[str, Any]) -> Any:
    return jsonify(SourcesReportSchema().dump(_source_report(query)))


# --- CSV ------------------------------------------------------------------------------------------------

FIRST_COLUMN = {Grouping.SOURCE: "Source", Grouping.CHANNEL: "Channel", Grouping.CAMPAIGN: "Campaign"}
LINE_COLUMNS = ["Visitors", "Revenue", "Students", "Conversion %", "Avg Order Value", "Revenue/Visitor"]


def _csv_rows(rows: Iterable[list[Any]]) -> Iterator[str]:
    """One CSV line at a time, so a long table streams instead of being built in memory."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow(row)
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def _major(amount: int | None, currency: str) -> str:
    return "" if amount is None else Money(amount, currency).format_major()


def _line_csv(line: SourceLine, currency: str) -> list[Any]:
    rate = "" if line.conversion_rate is None else f"{line.conversion_rate * 100:.2f}"
    return [
        line.label,
        line.totals.visitors,
        _major(line.totals.revenue, currency),
        line.totals.students,
        rate,
        _major(line.avg_order_value, currency),
        _major(line.revenue_per_visitor, currency),
    ]


@inject
def _csv_response(
    name_parts: list[str], rows: Iterable[list[Any]], clock: Clock = Provide["gateways.clock"]
) -> Response:
    safe = "-".join("".join(ch if ch.isalnum() else "_" for ch in part) for part in name_parts)
    name = f"coursesignal-{safe}-{clock.now().date().isoformat()}.csv"
    return Response(
        stream_with_context(_csv_rows(rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blueprint.get("/reports/sources.csv")
@requires_account
@requires_reports_access
@operation(
    "Revenue by source as CSV, in human units",
    {
        200: Answer(
            "Streamed CSV with header Source,Visitors,Revenue,Students,Conversion %,Avg Order Value,Revenue/Visitor "
            "(Channel or Campaign first when grouped so), then an Unmatched row when purchases were not matched. "
            "The file name ends with the ISO date.",
            TEXT,
            CSV,
        ),
        **AUTH_ERRORS,
    },
    query=SourcesQuery,
    security=TOKEN_OR_SESSION,
)
def sources_csv(query: dict[str, Any]) -> Response:
    report = _source_report(query)
    count_use(g.account_id, Feature.SOURCES_CSV)

    def rows() -> Iterator[list[Any]]:
        yield [FIRST_COLUMN[report.group], *LINE_COLUMNS]
        for line in report.lines:
            yield _line_csv(line, report.currency)
        if report.unmatched.purchases:
            yield [UNMATCHED_LABEL, "", _major(report.unmatched.revenue, report.currency), "", "", "", ""]

    parts = ["sources", report.group.value, _range_name(report.range), report.model.value, report.currency]
    return _csv_response(parts, rows())


# --- summary --------------------------------------------------------------------------------------------


@blueprint.get("/reports/summary")
@requires_account
@requires_reports_access
@operation(
    "Revenue, its trend, average order value, match rate and revenue per day",
    {
        200: Answer(
            "Ranges are whole UTC days ending today; the trend compares with the period of equal length just before "
            "(null for all time or when that period had no revenue).",
            SummarySchema,
        ),
        **AUTH_ERRORS,
    },
    query=RangeQuery,
    security=TOKEN_OR_SESSION,
)
@inject
def summary(query: dict[str, Any], reports: Reports = Provide["services.reports"]) -> Any:
    return jsonify(SummarySchema().dump(reports.summary(g.account_id, query["period"], query["currency"])))


# --- drill-down -----------------------------------------------------------------------------------------

BREAKDOWN_TABLES = {
    Breakdown.MEDIUM: "mediums",
    Breakdown.CAMPAIGN: "campaigns",
    Breakdown.LANDING_PAGE: "landing_pages",
    Breakdown.TAGGED: "tagged_as",
}
BREAKDOWN_COLUMNS = {
    Breakdown.MEDIUM: "Medium",
    Breakdown.CAMPAIGN: "Campaign",
    Breakdown.LANDING_PAGE: "Landing Page",
    Breakdown.TAGGED: "utm_source",
}
SOURCE_TABLES = [*BREAKDOWN_TABLES.values(), "purchases"]


class _TablePath(Schema):
    source = fields.String(required=True)
    table = fields.String(required=True, validate=validate.OneOf(SOURCE_TABLES))


@inject
def _source_detail(source: str, query: dict[str, Any], reports: Reports = Provide["services.reports"]) -> SourceDetail:
    if "\x00" in source:  # no source is named with a NUL, and PostgreSQL text cannot even be compared with one
        abort(404, description="No source has that name. Pick a source from the report.")
    try:
        return reports.source_detail(
            g.account_id, source, query["period"], query["model"], query["currency"], sort=query["sort"]
        )
    except UnknownSource:
        abort(404, description=f"No visitor or purchase came from {source!r}. Pick a source from the report.")


@blueprint.get("/reports/sources/<path:source>")
@requires_account
@requires_reports_access
@also_documented(
    "One table of a source's drill-down as CSV, in human units",
    {
        200: Answer("Streamed CSV; the file name ends with the ISO date.", TEXT, CSV),
        **AUTH_ERRORS,
        404: Answer("Unknown source or table.", ErrorSchema),
    },
    query=ReportQuery,
    path="/api/v1/reports/sources/{source}/{table}.csv",
    path_parameters=_TablePath,
    security=TOKEN_OR_SESSION,
)
@operation(
    "One source's mediums, campaigns, landing pages and raw utm_source values, and the purchases credited to it",
    {
        200: Answer("The drill-down; purchases are the 50 newest credited in the range.", SourceDetailSchema),
        **AUTH_ERRORS,
        404: Answer("No visitor or purchase of yours came from it.", ErrorSchema),
    },
    query=ReportQuery,
    security=TOKEN_OR_SESSION,
)
def source_detail(source: str, query: dict[str, Any]) -> Any:
    if source.endswith(".csv") and "/" in source:
        return _source_detail_csv(*source[: -len(".csv")].rsplit("/", 1), query)
    return jsonify(SourceDetailSchema().dump(_source_detail(source, query)))


def _source_detail_csv(source: str, table: str, query: dict[str, Any]) -> Response:
    """/reports/sources/<source>/<table>.csv: one table of the drill-down, as the creator sees it."""
    tables = {name: breakdown for breakdown, name in BREAKDOWN_TABLES.items()}
    if table not in SOURCE_TABLES:
        abort(404, description=f"A source's tables are {', '.join(SOURCE_TABLES)}.")
    detail = _source_detail(source, query)
    count_use(g.account_id, Feature.SOURCE_DETAIL_CSV)

    def rows() -> Iterator[list[Any]]:
        if table == "purchases":
            yield PURCHASE_COLUMNS
            for row in detail.purchases:
                yield _purchase_csv(row)
            return
        breakdown = tables[table]
        yield [BREAKDOWN_COLUMNS[breakdown], *LINE_COLUMNS]
        for line in detail.tables[breakdown]:
            yield _line_csv(line, detail.currency)

    parts = ["source", source, table, _range_name(detail.range), detail.model.value, detail.currency]
    return _csv_response(parts, rows())


# --- purchases ------------------------------------------------------------------------------------------

PURCHASE_COLUMNS = [
    "Purchased At",
    "Email",
    "Course",
    "Amount",
    "Refunded",
    "Currency",
    "Status",
    "Matched By",
    "First Touch",
    "Last Touch",
]


def _purchase_csv(row: PurchaseRow) -> list[Any]:
    return [
        row.purchased_at.isoformat().replace("+00:00", "Z"),
        row.email or "",
        row.course_name or "",
        _major(row.amount, row.currency),
        _major(row.refunded, row.currency),
        row.currency,
        row.status,
        row.match_method or "",
        row.first_touch.source if row.first_touch else "",
        row.last_touch.source if row.last_touch else "",
    ]


@blueprint.get("/purchases")
@requires_account
@requires_reports_access
@operation(
    "The newest purchases, with attribution status, how each was matched and both touches",
    {200: Answer("Every currency, each purchase in its own.", PurchaseListSchema), **AUTH_ERRORS},
    query=PurchasesQuery,
    security=TOKEN_OR_SESSION,
)
@inject
def recent_purchases(query: dict[str, Any], reports: Reports = Provide["services.reports"]) -> Any:
    return jsonify(PurchaseListSchema().dump({"purchases": reports.recent_purchases(g.account_id, query["limit"])}))


@blueprint.get("/purchases/<int:id>")
@requires_account
@requires_reports_access
@operation(
    "One purchase with the buyer's whole session history",
    {
        200: Answer(
            "The purchase, and every session of the browser it was matched to and of every browser that identified "
            "with the buyer's email, oldest first.",
            PurchaseDetailSchema,
        ),
        401: UNAUTHORIZED,
        402: AUTH_ERRORS[402],
        404: Answer("No purchase with this id in your account.", ErrorSchema),
    },
    security=TOKEN_OR_SESSION,
)
@inject
def purchase_detail(id: int, reports: Reports = Provide["services.reports"]) -> Any:  # the path names it `id`
    detail = reports.purchase(g.account_id, id)
    if detail is None:
        abort(404, description="No purchase with this id in your account.")
    return jsonify(PurchaseDetailSchema().dump(detail))
