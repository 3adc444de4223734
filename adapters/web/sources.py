"""Settings > Sources: the creator's own names for sources (map, rename, merge), applied to every report, and
how many bot visits were left out of the reports."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from core.domain.channels import Channel
from core.domain.source_rules import MAX_NAME, InvalidRule
from core.services.reports import BOT_VISIT_DAYS, Reports
from core.services.source_rules import SourceRules

blueprint = Blueprint("sources", __name__, url_prefix="/sources")


class RuleForm(FlaskForm):  # type: ignore[misc]
    match = StringField(
        "Source as recorded",
        description="As it appears in your reports today, for example Ck or blog.partner.org.",
        validators=[DataRequired("Give the source to rename."), Length(max=MAX_NAME)],
        render_kw={"autocomplete": "off", "list": "recorded-sources"},
    )
    source = StringField(
        "Show it as",
        description="A new name, or the name of another source to merge it into. Empty keeps the name.",
        validators=[Length(max=MAX_NAME)],
        render_kw={"autocomplete": "off"},
    )
    channel = SelectField(
        "In the channel",
        choices=[SelectChoice("", "The channel it was recorded in")]
        + [SelectChoice(c.value, c.value) for c in Channel],
        default="",
    )


class RemoveForm(FlaskForm):  # type: ignore[misc]
    match = HiddenField(validators=[DataRequired(), Length(max=MAX_NAME)])


@inject
def _page(
    form: RuleForm | None = None,
    status: int = 200,
    rules: SourceRules = Provide["services.source_rules"],
    reports: Reports = Provide["services.reports"],
) -> tuple[str, int]:
    page = render_template(
        "sources/rules.html",
        rules=rules.rules(current_user.id),
        recorded=reports.recorded_sources(current_user.id),
        form=form or RuleForm(),
        remove_form=RemoveForm(),
        bot_visits=reports.bot_visits(current_user.id),
        bot_visit_days=BOT_VISIT_DAYS,
    )
    return page, status


@blueprint.get("/")
@login_required
def index() -> Any:
    return _page()


@blueprint.post("/rules")
@login_required
@inject
def add_rule(rules: SourceRules = Provide["services.source_rules"]) -> Any:
    form = RuleForm()
    if form.validate_on_submit():
        try:
            added = rules.add(current_user.id, form.match.data, form.source.data or "", form.channel.data or None)
        except InvalidRule as error:
            form.source.errors.append(str(error))
        else:
            shown = next((r for r in added if r.match == " ".join(form.match.data.split())), None)
            if shown is not None:
                flash(f"“{shown.match}” now shows as “{shown.source}” in every report, past ones included.")
            return redirect(url_for("sources.index"))
    return _page(form, 400)


@blueprint.post("/rules/remove")
@login_required
@inject
def remove_rule(rules: SourceRules = Provide["services.source_rules"]) -> Any:
    form = RemoveForm()
    if form.validate_on_submit():
        rules.remove(current_user.id, form.match.data)
        flash(f"“{form.match.data}” shows under its recorded name again.")
    return redirect(url_for("sources.index"))
