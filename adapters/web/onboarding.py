"""The onboarding wizard: platform, connect, sync, snippet, dashboard. Every step can be left and resumed.

The platform list comes from the PlatformRegistry, so a platform lights up here as soon as it is
installed. A platform with `credential_fields` is connected through the Connections service (the same
form, chooser and live sync progress as the Connections pages); the CSV platform, which reads a file
rather than an account, gets an upload form instead.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, Length

from adapters.web.connections import status_label, typed_back
from core.domain.connections import ConnectionStatus
from core.domain.onboarding import Step
from core.domain.sites import tracking_snippet
from core.ports.platforms import PlatformAdapter, PlatformCatalog, PlatformError
from core.services.connections import ConnectionFailed, Connections, ConnectionView, UnknownConnection
from core.services.onboarding import Onboarding, OnboardingState, SiteNotFound
from core.services.purchases import Purchases

log = logging.getLogger(__name__)
blueprint = Blueprint("onboarding", __name__, url_prefix="/onboarding")

CSV_PLATFORM = "csv"
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
    return _render("onboarding/platform.html", state, Step.PLATFORM, form=form)


@blueprint.route("/connect", methods=["GET", "POST"])
@login_required
@inject
def connect(
    platforms: PlatformCatalog = Provide["platforms.registry"],
    onboarding: Onboarding = Provide["services.onboarding"],
    purchases: Purchases = Provide["services.purchases"],
) -> Any:
    state = _state()
    if state.progress.platform is None:
        return redirect(url_for("onboarding.platform"))
    try:
        adapter = platforms.get(state.progress.platform)
    except KeyError:
        flash("That platform is no longer installed here; choose another one.", "error")
        return redirect(url_for("onboarding.platform"))
    if adapter.credential_fields:
        return _connect_platform(state, adapter, onboarding, _connections())
    return _upload_csv(state, adapter, onboarding, purchases)


def _connect_platform(
    state: OnboardingState, adapter: PlatformAdapter, onboarding: Onboarding, connections: Connections
) -> Any:
    """The same connection the Connections pages make: stored, webhooks registered, synced by a job."""
    error: str | None = None
    if request.method == "POST":
        credentials = {f.name: request.form.get(f.name, "") for f in adapter.credential_fields}
        try:
            result = connections.connect(current_user.id, adapter.name, credentials)
        except ConnectionFailed as problem:
            error = str(problem)
        else:
            onboarding.record_connection(current_user.id, result.connection.id)
            return redirect(url_for("onboarding.choose" if result.needs_choice else "onboarding.sync"))
    typed = typed_back(adapter, request.form) if error else {}
    page = _render(
        "onboarding/connect.html", state, Step.CONNECT, platform=adapter, error=error, action="connect", typed=typed
    )
    return page, 422 if error else 200


def _upload_csv(state: OnboardingState, adapter: PlatformAdapter, onboarding: Onboarding, purchases: Purchases) -> Any:
    """A file has no account to connect to: its purchases are read at once, in the request."""
    form = CsvUploadForm()
    error: str | None = None
    if form.validate_on_submit():
        try:
            imported = _import_csv(purchases, form)
        except PlatformError as problem:
            error = str(problem)
        else:
            onboarding.record_sync(current_user.id, imported)
            return redirect(url_for("onboarding.sync"))
    page = _render("onboarding/connect_csv.html", state, Step.CONNECT, form=form, adapter=adapter, error=error)
    return page, 400 if error else 200


def _import_csv(purchases: Purchases, form: CsvUploadForm) -> int:
    with tempfile.TemporaryDirectory(prefix="coursesignal-upload-") as folder:
        path = Path(folder) / "purchases.csv"
        form.file.data.save(path)
        summary = purchases.import_from_platform(
            current_user.id, CSV_PLATFORM, {"path": str(path)}, datetime(1970, 1, 1, tzinfo=UTC), _no_progress
        )
    return summary.purchases_added + summary.purchases_already_known


def _no_progress(done: int, total: int | None) -> None:
    """A file is read within the upload request, so there is no page to report progress to."""


@inject
def _connections(connections: Connections = Provide["services.connections"]) -> Connections:
    """Asked for only when a platform is connected: a CSV upload needs no credential encryption keys."""
    return connections


def _onboarding_connection(state: OnboardingState) -> ConnectionView | None:
    if state.progress.connection_id is None:
        return None
    try:
        return _connections().status(current_user.id, state.progress.connection_id)
    except UnknownConnection:
        return None


@blueprint.route("/choose", methods=["GET", "POST"])
@login_required
def choose() -> Any:
    """The platform offers several sites for the credentials: the creator picks the one to read."""
    state = _state()
    view = _onboarding_connection(state)
    if view is None:
        return redirect(url_for("onboarding.connect"))
    if view.status is not ConnectionStatus.CHOOSING:
        return redirect(url_for("onboarding.sync"))
    connections = _connections()
    error: str | None = None
    if request.method == "POST":
        try:
            connections.choose(current_user.id, view.id, request.form.get("choice", ""))
        except ConnectionFailed as problem:
            error = str(problem)
        else:
            return redirect(url_for("onboarding.sync"))
    try:
        choices = connections.choices(current_user.id, view.id)
    except ConnectionFailed as problem:
        choices, error = (), str(problem)
    page = _render("onboarding/choose.html", state, Step.CONNECT, connection=view, choices=choices, error=error)
    return page, 422 if error else 200


@blueprint.route("/sync", methods=["GET", "POST"])
@login_required
@inject
def sync(onboarding: Onboarding = Provide["services.onboarding"]) -> Any:
    state = _state()
    view = _onboarding_connection(state)
    if view is None:
        if state.progress.synced_at is None:
            return redirect(url_for("onboarding.connect"))
        return _render("onboarding/sync.html", state, Step.SYNC)
    if view.status is ConnectionStatus.CHOOSING:
        return redirect(url_for("onboarding.choose"))
    if request.method == "POST" and PlainForm().validate_on_submit():
        if onboarding.finish_connection_sync(current_user.id):
            return redirect(url_for("onboarding.snippet"))
        flash("The sync is not finished yet; continue once it says Connected.", "error")
        return redirect(url_for("onboarding.sync"))
    return _render(
        "onboarding/sync_connection.html",
        state,
        Step.SYNC,
        connection=view,
        label=status_label(view),
        continue_form=PlainForm(),
    )


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
        snippet_html = tracking_snippet(base, state.site)
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
