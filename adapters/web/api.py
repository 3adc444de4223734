"""The JSON reports API: a session cookie or `Authorization: Bearer <personal API token>`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, abort, g, jsonify, request, stream_with_context
from flask_login import current_user

from adapters.web.billing import requires_reports_access
from adapters.web.usage import count_use
from core.domain.attribution import Model
from core.domain.feature_usage import Feature
from core.domain.money import Money
from core.domain.reports import (
    UNMATCHED_LABEL,
    Breakdown,
    CustomRange,
    Grouping,
    Period,
    PurchaseRow,
    ReportRange,
    SessionRow,
    SortColumn,
    SortOrder,
    SourceLine,
    parse_period,
)
from core.domain.touches import Touch
from core.ports.clock import Clock
from core.services.accounts import Accounts
from core.services.reports import Reports, SourceDetail, SourceReport, SummaryReport, UnknownSource

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


E = TypeVar("E", bound=StrEnum)


def _choice(name: str, enum: type[E], default: E) -> E:
    value = request.args.get(name, default.value)
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        abort(400, description=f"{name} must be one of {allowed}")


def _currency() -> str | None:
    value = request.args.get("currency")
    if value is not None and not (len(value) == 3 and value.isalpha()):
        abort(400, description="currency must be a three-letter ISO 4217 code")
    return value.upper() if value else None


def _sort() -> SortOrder:
    try:
        return SortOrder.parse(request.args.get("sort", "-revenue"))
    except ValueError:
        allowed = ", ".join(column.value for column in SortColumn)
        abort(400, description=f"sort must be one of {allowed}, with a leading '-' for descending")


def _range() -> Period:
    try:
        return parse_period(
            request.args.get("range", ReportRange.LAST_30_DAYS.value), request.args.get("from"), request.args.get("to")
        )
    except ValueError as error:
        abort(400, description=str(error))


def _range_name(period: Period) -> str:
    """The range in a file name: 30d, or 2026-11-01_2026-11-07."""
    if isinstance(period, CustomRange):
        return f"{period.first.isoformat()}_{period.last.isoformat()}"
    return period.value


def _range_json(period: Period) -> dict[str, Any]:
    """The range as the response names it: a custom one also says its first and last day."""
    if isinstance(period, CustomRange):
        return {"range": period.value, "from": period.first.isoformat(), "to": period.last.isoformat()}
    return {"range": period.value}


def _model() -> Model:
    return _choice("model", Model, Model.FIRST_TOUCH)


@inject
def _source_report(reports: Reports = Provide["services.reports"]) -> SourceReport:
    return reports.sources(
        g.account_id,
        _range(),
        _model(),
        _currency(),
        group=_choice("group", Grouping, Grouping.SOURCE),
        sort=_sort(),
    )


def _line_json(line: SourceLine, key: str = "source") -> dict[str, Any]:
    return {
        key: line.label,
        **({"channel": line.totals.channel} if key == "source" else {}),
        "visitors": line.totals.visitors,
        "revenue": line.totals.revenue,
        "students": line.totals.students,
        "purchases": line.totals.purchases,
        "conversion_rate": line.conversion_rate,
        "avg_order_value": line.avg_order_value,
        "revenue_per_visitor": line.revenue_per_visitor,
    }


@blueprint.get("/reports/sources")
@requires_account
@requires_reports_access
def sources() -> Any:
    report = _source_report()
    return jsonify(
        **_range_json(report.range),
        model=report.model.value,
        currency=report.currency,
        group=report.group.value,
        sort=str(report.sort),
        rows=[_line_json(line) for line in report.lines],
        unmatched={"revenue": report.unmatched.revenue, "purchases": report.unmatched.purchases},
    )


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
def sources_csv() -> Response:
    report = _source_report()
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


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@blueprint.get("/reports/summary")
@requires_account
@requires_reports_access
@inject
def summary(reports: Reports = Provide["services.reports"]) -> Any:
    report: SummaryReport = reports.summary(g.account_id, _range(), _currency())
    s = report.summary
    return jsonify(
        **_range_json(report.range),
        currency=report.currency,
        since=_iso(report.since),
        until=_iso(report.until),
        revenue=s.revenue,
        previous_revenue=s.previous_revenue,
        trend_percent=s.trend_percent,
        purchases=s.purchases,
        matched_purchases=s.matched_purchases,
        match_rate=s.match_rate,
        avg_order_value=s.avg_order_value,
        daily=[{"date": d.day.isoformat(), "revenue": d.revenue, "purchases": d.purchases} for d in s.daily],
    )


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


@inject
def _source_detail(source: str, reports: Reports = Provide["services.reports"]) -> SourceDetail:
    if "\x00" in source:  # no source is named with a NUL, and PostgreSQL text cannot even be compared with one
        abort(404, description="No source has that name. Pick a source from the report.")
    try:
        return reports.source_detail(g.account_id, source, _range(), _model(), _currency(), sort=_sort())
    except UnknownSource:
        abort(404, description=f"No visitor or purchase came from {source!r}. Pick a source from the report.")


@blueprint.get("/reports/sources/<path:source>")
@requires_account
@requires_reports_access
def source_detail(source: str) -> Any:
    if source.endswith(".csv") and "/" in source:
        return _source_detail_csv(*source[: -len(".csv")].rsplit("/", 1))
    detail = _source_detail(source)
    return jsonify(
        source=detail.source,
        **_range_json(detail.range),
        model=detail.model.value,
        currency=detail.currency,
        sort=str(detail.sort),
        **{
            BREAKDOWN_TABLES[breakdown]: [_line_json(line, "name") for line in lines]
            for breakdown, lines in detail.tables.items()
        },
        purchases=[_purchase_json(row) for row in detail.purchases],
    )


def _source_detail_csv(source: str, table: str) -> Response:
    """/reports/sources/<source>/<table>.csv: one table of the drill-down, as the creator sees it."""
    tables = {name: breakdown for breakdown, name in BREAKDOWN_TABLES.items()}
    if table not in (*tables, "purchases"):
        abort(404, description=f"A source's tables are {', '.join([*tables, 'purchases'])}.")
    detail = _source_detail(source)
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


def _touch_json(touch: Touch | None) -> dict[str, Any] | None:
    if touch is None:
        return None
    return {
        "source": touch.source,
        "channel": touch.channel.value,
        "medium": touch.medium,
        "campaign": touch.campaign,
        "term": touch.term,
        "content": touch.content,
        "referrer_host": touch.referrer_host,
        "landing_page": touch.landing_page,
        "at": _iso(touch.occurred_at),
    }


def _purchase_json(row: PurchaseRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "platform": row.platform,
        "platform_purchase_id": row.platform_purchase_id,
        "email": row.email,
        "course_name": row.course_name,
        "amount": row.amount,
        "refunded": row.refunded,
        "net_amount": row.net_amount,
        "net_amount_major": Money(row.net_amount, row.currency).format_major(),
        "currency": row.currency,
        "purchased_at": _iso(row.purchased_at),
        "status": row.status,
        "match_method": row.match_method,
        "unmatched_reason": row.unmatched_reason,
        "match_confidence": row.match_confidence,
        "first_touch": _touch_json(row.first_touch),
        "last_touch": _touch_json(row.last_touch),
    }


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
        _iso(row.purchased_at),
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


def _session_json(session: SessionRow) -> dict[str, Any]:
    touch = _touch_json(session.touch) or {}
    touch.pop("at", None)
    return {
        "visitor_key": session.visitor_key,
        "started_at": _iso(session.started_at),
        "last_seen_at": _iso(session.last_seen_at),
        **touch,
    }


@blueprint.get("/purchases")
@requires_account
@requires_reports_access
@inject
def recent_purchases(reports: Reports = Provide["services.reports"]) -> Any:
    limit = request.args.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 200:
        abort(400, description="limit must be a whole number from 1 to 200")
    return jsonify(purchases=[_purchase_json(row) for row in reports.recent_purchases(g.account_id, int(limit))])


@blueprint.get("/purchases/<int:purchase_id>")
@requires_account
@requires_reports_access
@inject
def purchase_detail(purchase_id: int, reports: Reports = Provide["services.reports"]) -> Any:
    detail = reports.purchase(g.account_id, purchase_id)
    if detail is None:
        abort(404, description="No purchase with this id in your account.")
    return jsonify(**_purchase_json(detail.purchase), sessions=[_session_json(s) for s in detail.sessions])
