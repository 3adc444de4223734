"""The onboarding wizard: platform, connect, sync, snippet, dashboard. Every step can be left and resumed.

The platform list comes from the PlatformRegistry, so a platform lights up here as soon as it is
installed. A platform gets the form built from its `credential_fields`; the CSV platform, which reads a
file rather than an account, gets an upload form instead.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response
from wtforms import PasswordField, RadioField, StringField
from wtforms.validators import DataRequired, Length

from core.domain.onboarding import Step
from core.ports.clock import Clock
from core.ports.platforms import PlatformAdapter, PlatformCatalog, PlatformError
from core.services.onboarding import Onboarding, OnboardingState, SiteNotFound
from core.services.purchases import Purchases

log = logging.getLogger(__name__)
blueprint = Blueprint("onboarding", __name__, url_prefix="/onboarding")

CSV_PLATFORM = "csv"
SYNC_WINDOW = timedelta(days=30)
_STEP_ENDPOINTS = {
    Step.PLATFORM: "onboarding.platform",
    Step.CONNECT: "onboarding.connect",
    Step.SYNC: "onboarding.sync",
    Step.SNIPPET: "onboarding.snippet",
    Step.DASHBOARD: "dashboard.index",
}


class PlatformForm(FlaskForm):  # type: ignore[misc]
    platform = RadioField("Where do you sell your courses?", validators=[DataRequired("Choose one platform.")])


class CsvUploadForm(FlaskForm):  # type: ignore[misc]
    file = FileField(
        "Purchases file (.csv)",
        validators=[FileRequired("Choose the CSV file to upload.")],
        description=(
            "Columns: purchase_id, email, amount (like 49.00), currency, purchased_at (ISO 8601); "
            "optional course_name and visitor_id. The first row names the columns."
        ),
        render_kw={"accept": ".csv,text/csv"},
    )


class SiteForm(FlaskForm):  # type: ignore[misc]
    domain = StringField(
        "Your website's domain",
        validators=[DataRequired("Enter the domain your sales pages are on."), Length(max=253)],
        description="For example academy.example.com: the site where visitors land before they buy.",
        render_kw={"placeholder": "academy.example.com", "autocomplete": "url", "inputmode": "url"},
    )


class PlainForm(FlaskForm):  # type: ignore[misc]
    pass


def credentials_form(adapter: PlatformAdapter) -> FlaskForm:
    """A form with one field per credential the platform asks for, secrets as password inputs."""

    class CredentialsForm(FlaskForm):  # type: ignore[misc]
        pass

    for spec in adapter.credential_fields:
        field_type = PasswordField if spec.secret else StringField
        setattr(
            CredentialsForm,
            spec.name,
            field_type(
                spec.label,
                validators=[DataRequired(f"Enter your {spec.label}."), Length(max=2000)],
                description=spec.help,
                render_kw={"autocomplete": "off", "spellcheck": "false"},
            ),
        )
    return CredentialsForm()


@inject
def _state(onboarding: Onboarding = Provide["services.onboarding"]) -> OnboardingState:
    return onboarding.state(current_user.id)


def _render(template: str, state: OnboardingState, step: Step, **context: Any) -> str:
    return render_template(template, state=state, step=step, steps=list(Step), **context)


@blueprint.get("")
@login_required
def resume() -> Response:
    return redirect(url_for(_STEP_ENDPOINTS[_state().current_step]))


@blueprint.route("/platform", methods=["GET", "POST"])
@login_required
@inject
def platform(
    platforms: PlatformCatalog = Provide["platforms.registry"],
    onboarding: Onboarding = Provide["services.onboarding"],
) -> Any:
    state = _state()
    installed = platforms.all()
    form = PlatformForm(data={"platform": state.progress.platform})
    form.platform.choices = [(p.name, p.display_name) for p in installed]
    if form.validate_on_submit():
        onboarding.choose_platform(current_user.id, form.platform.data)
        return redirect(url_for("onboarding.connect"))
    return _render("onboarding/platform.html", state, Step.PLATFORM, form=form, platforms=installed)


@blueprint.route("/connect", methods=["GET", "POST"])
@login_required
@inject
def connect(
    platforms: PlatformCatalog = Provide["platforms.registry"],
    onboarding: Onboarding = Provide["services.onboarding"],
    purchases: Purchases = Provide["services.purchases"],
    clock: Clock = Provide["gateways.clock"],
) -> Any:
    state = _state()
    if state.progress.platform is None:
        return redirect(url_for("onboarding.platform"))
    try:
        adapter = platforms.get(state.progress.platform)
    except KeyError:
        flash("That platform is no longer installed here; choose another one.", "error")
        return redirect(url_for("onboarding.platform"))

    form: FlaskForm = CsvUploadForm() if adapter.name == CSV_PLATFORM else credentials_form(adapter)
    error: str | None = None
    if form.validate_on_submit():
        try:
            if isinstance(form, CsvUploadForm):
                imported = _import_csv(purchases, form)
            else:
                imported = _import_from_platform(purchases, adapter, form, clock.now() - SYNC_WINDOW)
        except PlatformError as problem:
            error = str(problem)
        else:
            onboarding.record_sync(current_user.id, imported)
            return redirect(url_for("onboarding.sync"))
    template = "onboarding/connect_csv.html" if adapter.name == CSV_PLATFORM else "onboarding/connect.html"
    return _render(template, state, Step.CONNECT, form=form, adapter=adapter, error=error), 400 if error else 200


def _import_csv(purchases: Purchases, form: CsvUploadForm) -> int:
    with tempfile.TemporaryDirectory(prefix="coursesignal-upload-") as folder:
        path = Path(folder) / "purchases.csv"
        form.file.data.save(path)
        summary = purchases.import_from_platform(
            current_user.id, CSV_PLATFORM, {"path": str(path)}, datetime(1970, 1, 1, tzinfo=UTC), _no_progress
        )
    return summary.purchases_added + summary.purchases_already_known


def _import_from_platform(purchases: Purchases, adapter: PlatformAdapter, form: FlaskForm, since: datetime) -> int:
    credentials = {spec.name: str(form[spec.name].data).strip() for spec in adapter.credential_fields}
    check = adapter.check_credentials(credentials)
    if not check.ok:
        raise PlatformError(check.message or f"{adapter.display_name} did not accept those details; check them.")
    summary = purchases.import_from_platform(current_user.id, adapter.name, credentials, since, _no_progress)
    return summary.purchases_added + summary.purchases_already_known


def _no_progress(done: int, total: int | None) -> None:
    """The import runs within the request today, so there is no one to report progress to."""


@blueprint.get("/sync")
@login_required
def sync() -> Any:
    state = _state()
    if state.progress.synced_at is None:
        return redirect(url_for("onboarding.connect"))
    return _render("onboarding/sync.html", state, Step.SYNC)


@blueprint.route("/snippet", methods=["GET", "POST"])
@login_required
@inject
def snippet(onboarding: Onboarding = Provide["services.onboarding"]) -> Any:
    state = _state()
    form = SiteForm()
    if state.site is None and form.validate_on_submit():
        try:
            onboarding.create_site(current_user.id, form.domain.data)
        except ValueError:
            form.domain.errors.append("That is not a domain name. Enter it like academy.example.com.")
        else:
            return redirect(url_for("onboarding.snippet"))
    snippet_html = None
    if state.site is not None:
        base = current_app.config["BASE_URL"]
        snippet_html = f'<script async src="{base}/t.js" data-site="{state.site.public_key}"></script>'
    return _render(
        "onboarding/snippet.html", state, Step.SNIPPET, form=form, snippet=snippet_html, finish_form=PlainForm()
    )


@blueprint.post("/finish")
@login_required
@inject
def finish(onboarding: Onboarding = Provide["services.onboarding"]) -> Response:
    if PlainForm().validate_on_submit():
        onboarding.complete(current_user.id)
    return redirect(url_for("dashboard.index"))


@blueprint.get("/sites/<int:site_id>/first-visit")
@login_required
@inject
def first_visit(site_id: int, onboarding: Onboarding = Provide["services.onboarding"]) -> Any:
    try:
        seen = onboarding.first_visit_seen(current_user.id, site_id)
    except SiteNotFound:
        abort(404)
    return jsonify(seen=seen)
