"""The operator console under /operator/: the business metrics across all accounts.

It exists only for accounts granted the operator role from the command line (`coursesignal operator
grant`). To everyone else, signed in or not, every address under /operator/ answers 404, exactly as an
address that does not exist: a creator cannot tell the console is there.
"""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import EmailField, IntegerField
from wtforms.validators import DataRequired, Length

from adapters.web.charts import labelled_bars_svg
from adapters.web.security import protect_form
from core.domain.feature_usage import feature_label
from core.services.beta import Beta
from core.services.metrics import Metrics, MetricsReport

blueprint = Blueprint("operator", __name__, url_prefix="/operator")


@blueprint.before_request
def _operators_only() -> None:
    # The account is read afresh on every request (sessions.load_account), so a revoke applies at once.
    if not current_user.is_authenticated or not current_user.account.is_operator:
        abort(404)
    protect_form()  # only now: to anyone else a POST here is a 404 like any address, not a form error


# No slash-adding redirect for /operator: it would tell a stranger that something lives there.
@blueprint.get("/", strict_slashes=False)
@inject
def index(metrics: Metrics = Provide["services.metrics"]) -> Any:
    report = metrics.report()
    return render_template(
        "operator/index.html", report=report, charts=_charts(report), percent=_percent, feature_label=feature_label
    )


class InviteForm(FlaskForm):  # type: ignore[misc]
    email = EmailField(
        "Email address",
        description="Before they sign up (their trial is then 60 days), or of a creator who has an account.",
        validators=[DataRequired("Give the address to invite."), Length(max=320)],
    )


class CloseForm(FlaskForm):  # type: ignore[misc]
    request_id = IntegerField(validators=[DataRequired()])


@inject
def _beta_page(form: InviteForm | None = None, status: int = 200, beta: Beta = Provide["services.beta"]) -> Any:
    return render_template(
        "operator/beta.html", overview=beta.overview(), form=form or InviteForm(), close_form=CloseForm()
    ), status


@blueprint.get("/beta")
def beta_page() -> Any:
    return _beta_page()


@blueprint.post("/beta/invite")
@inject
def beta_invite(beta: Beta = Provide["services.beta"]) -> Any:
    form = InviteForm()
    if not form.validate_on_submit():
        return _beta_page(form, 400)
    try:
        invited = beta.invite(form.email.data)
    except ValueError as error:
        form.email.errors.append(str(error))
        return _beta_page(form, 400)
    if not invited.new:
        flash(f"{invited.member.email} is in the beta already; nothing changed.")
    elif invited.account is None:
        flash(f"{invited.member.email} is invited: 60 days free once they sign up with this address.")
    else:
        flash(f"{invited.member.email} is now a beta member.")
    return redirect(url_for("operator.beta_page"))


@blueprint.post("/beta/setup-help/close")
@inject
def close_setup_help(beta: Beta = Provide["services.beta"]) -> Any:
    form = CloseForm()
    if form.validate_on_submit() and beta.close_setup_help(form.request_id.data):
        flash("Setup help request closed.")
    else:
        flash("That request was closed already, or does not exist.", "error")
    return redirect(url_for("operator.beta_page") + "#setup-help")


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _charts(report: MetricsReport) -> dict[str, Markup]:
    days = report.days
    cohorts = [
        (
            c.month,
            (c.rate or 0.0) * 100,
            f"Signed up {c.month}: {c.paid} of {c.trials} trials paid ({_percent(c.rate)})",
        )
        for c in report.cohorts
    ]
    churn = [
        (
            m.month,
            (m.rate or 0.0) * 100,
            f"{m.month}: {m.churned} of {m.paying_at_start} paying accounts left ({_percent(m.rate)})",
        )
        for m in report.churn
    ]
    # Markup: the SVG is built from escaped values only (adapters/web/charts.py).
    return {
        "events": Markup(  # noqa: S704  # nosec B704
            labelled_bars_svg(
                f"Tracker events per day since {report.since}",
                [(d.day.strftime("%b %d"), d.events, f"{d.day}: {d.events} events") for d in days],
            )
        ),
        "purchases": Markup(  # noqa: S704  # nosec B704
            labelled_bars_svg(
                f"Purchases per day since {report.since}",
                [(d.day.strftime("%b %d"), d.purchases, f"{d.day}: {d.purchases} purchases") for d in days],
            )
        ),
        "cohorts": Markup(labelled_bars_svg("Trial to paid by signup month (%)", cohorts, top=100.0)),  # noqa: S704  # nosec B704
        "churn": Markup(labelled_bars_svg("Monthly churn (%)", churn, top=100.0)),  # noqa: S704  # nosec B704
    }
