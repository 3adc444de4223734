"""The beta page for members (/beta): their free days, setup help, the weekly feedback and testimonial consent.

A creator outside the beta gets 404 here, as for a page that does not exist. The weekly prompt itself shows
on the dashboard (`beta_feedback_due` in templates) and posts here.
"""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, TextAreaField
from wtforms.validators import Length

from core.domain.beta import MAX_TEXT, BetaMember
from core.services.beta import Beta, BetaRequestRefused
from core.services.subscriptions import Subscriptions

blueprint = Blueprint("beta", __name__, url_prefix="/beta")


class SetupHelpForm(FlaskForm):  # type: ignore[misc]
    message = TextAreaField(
        "What would you like help with?",
        description="Your platform, your pages, what you tried. We write back to book a time.",
        validators=[Length(max=MAX_TEXT)],
    )


class FeedbackForm(FlaskForm):  # type: ignore[misc]
    confusing = TextAreaField("What was confusing this week?", validators=[Length(max=MAX_TEXT)])
    missing_report = TextAreaField("Which report is missing?", validators=[Length(max=MAX_TEXT)])
    back_to = HiddenField()


class ConsentForm(FlaskForm):  # type: ignore[misc]
    consent = BooleanField("You may quote me (my words, name and school) as a testimonial")


def _member(beta: Beta) -> BetaMember:
    member = beta.member(int(current_user.id))
    if member is None:
        abort(404)
    return member


def _back(form: FeedbackForm) -> str:
    # Only our own two pages: never an address taken from the form as it came.
    return url_for("dashboard.index") if form.back_to.data == "dashboard" else url_for("beta.page")


@inject
def _page(
    status: int = 200,
    help_form: SetupHelpForm | None = None,
    feedback_form: FeedbackForm | None = None,
    beta: Beta = Provide["services.beta"],
    subscriptions: Subscriptions = Provide["services.subscriptions"],
) -> tuple[str, int]:
    account_id = int(current_user.id)
    member = _member(beta)
    return render_template(
        "beta/page.html",
        member=member,
        overview=subscriptions.overview(account_id),
        open_request=beta.open_setup_help(account_id),
        help_form=help_form or SetupHelpForm(),
        feedback_form=feedback_form or FeedbackForm(),
        consent_form=ConsentForm(consent=member.testimonial_consent_at is not None),
    ), status


@blueprint.get("/", strict_slashes=False)
@login_required
def page() -> Any:
    return _page()


@blueprint.post("/setup-help")
@login_required
@inject
def setup_help(beta: Beta = Provide["services.beta"]) -> Any:
    _member(beta)
    form = SetupHelpForm()
    if not form.validate_on_submit():
        return _page(400, help_form=form)
    try:
        beta.request_setup_help(int(current_user.id), form.message.data or "")
    except BetaRequestRefused as refused:
        form.message.errors.append(str(refused))
        return _page(409, help_form=form)
    flash("Thanks: we will write to you to book a time for your setup call.")
    return redirect(url_for("beta.page"))


@blueprint.post("/feedback")
@login_required
@inject
def feedback(beta: Beta = Provide["services.beta"]) -> Any:
    _member(beta)
    form = FeedbackForm()
    if not form.validate_on_submit():
        return _page(400, feedback_form=form)
    try:
        beta.send_feedback(int(current_user.id), form.confusing.data or "", form.missing_report.data or "")
    except BetaRequestRefused as refused:
        form.confusing.errors.append(str(refused))
        return _page(400, feedback_form=form)
    flash("Thank you for your feedback: we read every answer.")
    return redirect(_back(form))


@blueprint.post("/feedback/dismiss")
@login_required
@inject
def dismiss_feedback(beta: Beta = Provide["services.beta"]) -> Any:
    _member(beta)
    form = FeedbackForm()
    if form.validate_on_submit():
        beta.dismiss_feedback(int(current_user.id))
        flash("No problem: we will ask again next week.")
    return redirect(_back(form))


@blueprint.post("/testimonial")
@login_required
@inject
def quote_consent(beta: Beta = Provide["services.beta"]) -> Any:
    _member(beta)
    form = ConsentForm()
    if form.validate_on_submit():
        member = beta.set_testimonial_consent(int(current_user.id), bool(form.consent.data))
        if member.testimonial_consent_at is not None:
            flash("Thank you: you agreed to be quoted. You can withdraw it here any time.")
        else:
            flash("Withdrawn: we will not quote you.")
    return redirect(url_for("beta.page") + "#testimonial")


@inject
def beta_feedback_due(beta: Beta = Provide["services.beta"]) -> bool:
    """For the dashboard: whether this week's feedback prompt shows to the signed-in creator."""
    return bool(current_user.is_authenticated and beta.feedback_due(int(current_user.id)))


@inject
def is_beta_member(beta: Beta = Provide["services.beta"]) -> bool:
    return bool(current_user.is_authenticated and beta.member(int(current_user.id)) is not None)


@blueprint.app_context_processor
def _beta_in_templates() -> dict[str, Any]:
    # Functions, not values: only the pages that ask (the dashboard, billing) pay for the query.
    return {
        "beta_feedback_due": beta_feedback_due,
        "is_beta_member": is_beta_member,
        "beta_feedback_form": lambda: FeedbackForm(back_to="dashboard"),
    }
