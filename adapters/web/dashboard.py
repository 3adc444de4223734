"""The dashboard's first page: the revenue-by-source table from the report service, and what setup is left."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from core.domain.attribution import Model
from core.domain.money import Money
from core.domain.reports import ReportRange
from core.services.onboarding import Onboarding
from core.services.reports import Reports

blueprint = Blueprint("dashboard", __name__)

RANGE_LABELS = {
    ReportRange.LAST_7_DAYS: "7 days",
    ReportRange.LAST_30_DAYS: "30 days",
    ReportRange.LAST_90_DAYS: "90 days",
    ReportRange.ALL_TIME: "All time",
}


def _choice(value: str | None, enum: type[Any], default: Any) -> Any:
    try:
        return enum(value) if value else default
    except ValueError:
        return default


@blueprint.get("/dashboard")
@login_required
@inject
def index(
    reports: Reports = Provide["services.reports"], onboarding: Onboarding = Provide["services.onboarding"]
) -> Any:
    report_range = _choice(request.args.get("range"), ReportRange, ReportRange.LAST_30_DAYS)
    model = _choice(request.args.get("model"), Model, Model.FIRST_TOUCH)
    report = reports.sources(current_user.id, report_range, model)

    def money(amount: int | None) -> str:
        return "-" if amount is None else Money(amount, report.currency).format_major()

    return render_template(
        "dashboard/index.html",
        report=report,
        money=money,
        ranges=RANGE_LABELS,
        state=onboarding.state(current_user.id),
    )
