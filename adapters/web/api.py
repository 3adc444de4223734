"""The JSON reports API: a session cookie or `Authorization: Bearer <personal API token>`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from functools import wraps
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, abort, g, jsonify, request
from flask_login import current_user

from adapters.web.billing import requires_reports_access
from core.domain.attribution import Model
from core.domain.money import Money
from core.domain.reports import ReportRange
from core.services.accounts import Accounts
from core.services.reports import Reports, SourceReport

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


def _choice(name: str, enum: type[ReportRange] | type[Model], default: str) -> Any:
    value = request.args.get(name, default)
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


@inject
def _source_report(reports: Reports = Provide["services.reports"]) -> SourceReport:
    return reports.sources(
        g.account_id,
        _choice("range", ReportRange, ReportRange.LAST_30_DAYS.value),
        _choice("model", Model, Model.FIRST_TOUCH.value),
        _currency(),
    )


@blueprint.get("/reports/sources")
@requires_account
@requires_reports_access
def sources() -> Any:
    report = _source_report()
    return jsonify(
        range=report.range.value,
        model=report.model.value,
        currency=report.currency,
        rows=[
            {
                "source": line.totals.source,
                "channel": line.totals.channel,
                "visitors": line.totals.visitors,
                "revenue": line.totals.revenue,
                "students": line.totals.students,
                "purchases": line.totals.purchases,
                "conversion_rate": line.conversion_rate,
                "avg_order_value": line.avg_order_value,
                "revenue_per_visitor": line.revenue_per_visitor,
            }
            for line in report.lines
        ],
        unmatched={"revenue": report.unmatched.revenue, "purchases": report.unmatched.purchases},
    )


@blueprint.get("/reports/sources.csv")
@requires_account
@requires_reports_access
def sources_csv() -> Response:
    report = _source_report()

    def major(amount: int | None) -> str:
        return "" if amount is None else Money(amount, report.currency).format_major()

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Source", "Visitors", "Revenue", "Students", "Conversion %", "Avg Order Value", "Revenue/Visitor"])
    for line in report.lines:
        rate = "" if line.conversion_rate is None else f"{line.conversion_rate * 100:.2f}"
        writer.writerow(
            [
                line.totals.source,
                line.totals.visitors,
                major(line.totals.revenue),
                line.totals.students,
                rate,
                major(line.avg_order_value),
                major(line.revenue_per_visitor),
            ]
        )
    if report.unmatched.purchases:
        writer.writerow(["Unmatched", "", major(report.unmatched.revenue), "", "", "", ""])
    name = f"coursesignal-sources-{report.range.value}-{report.model.value}.csv"
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
