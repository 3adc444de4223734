"""Connection pages (connect, choose a site, watch the sync, reconnect, disconnect) and their JSON.

The pages extend the application's base.html (blocks `title` and `content`); the live progress bar is
static/connections.js polling `GET /api/v1/connections/{id}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import Schema, fields

from adapters.web.api import requires_account
from adapters.web.api_schemas import UNAUTHORIZED
from adapters.web.contract import TOKEN_OR_SESSION, Answer, ErrorSchema, operation
from core.domain.connections import ConnectionStatus, DeliveryState
from core.ports.platforms import PlatformAdapter, PlatformCatalog
from core.services.connections import (
    ConnectionFailed,
    Connections,
    ConnectionView,
    UnknownConnection,
    UnknownDelivery,
)

blueprint = Blueprint("connections", __name__, url_prefix="/connections")
api_blueprint = Blueprint("connections_api", __name__, url_prefix="/api/v1")

STATUS_LABELS = {
    "choosing": "Choose a site",
    "syncing": "Syncing",
    "connected": "Connected",
    "needs_attention": "Needs attention",
    "disconnected": "Disconnected",
}


#: Shown instead of "Connected" while reading the platform keeps failing (the reason says why, since when).
FAILING_LABEL = "Connected, not syncing"


def status_label(view: ConnectionView) -> str:
    if view.is_failing and view.status.value == "connected":
        return FAILING_LABEL
    return STATUS_LABELS[view.status.value]


class SyncHealthSchema(Schema):
    failing = fields.Boolean(attribute="is_failing")
    error = fields.String(
        attribute="sync_error", allow_none=True, metadata={"description": "The last failure, in the creator's words."}
    )
    since = fields.DateTime(attribute="failing_since", allow_none=True)


class SyncProgressSchema(Schema):
    pages_done = fields.Integer()
    purchases_found = fields.Integer()
    total = fields.Integer(allow_none=True, metadata={"description": "Purchases the platform reported, when it did."})


class ConnectionSchema(Schema):
    """One connection as the API and the connection page's poll read it."""

    id = fields.Integer(required=True)
    platform = fields.String(required=True, metadata={"example": "kajabi"})
    platform_name = fields.String(metadata={"example": "Kajabi"})
    status = fields.Enum(ConnectionStatus, by_value=fields.String, required=True)
    status_label = fields.String()
    reason = fields.String(
        attribute="problem",
        allow_none=True,
        metadata={
            "description": "What needs attention and what to do, or why reading the platform fails and since when."
        },
    )
    sync_health = fields.Nested(
        SyncHealthSchema,
        metadata={"description": "Whether reading the platform (the periodic poll, a sync's retries) keeps failing."},
    )
    account_name = fields.String(allow_none=True, metadata={"description": "The platform site being read."})
    last_synced_at = fields.DateTime(allow_none=True)
    progress = fields.Nested(SyncProgressSchema, required=True)

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if attr in ("sync_health", "progress"):  # read from the view itself
            return obj
        if attr == "status_label":
            return status_label(obj)
        return super().get_attribute(obj, attr, default)


class ConnectionListSchema(Schema):
    connections = fields.List(fields.Nested(ConnectionSchema))


def as_json(view: ConnectionView) -> dict[str, Any]:
    return ConnectionSchema().dump(view)  # type: ignore[no-any-return]


def _account_id() -> int:
    return int(current_user.id)


@inject
def _service(connections: Connections = Provide["services.connections"]) -> Connections:
    return connections


@inject
def _platform(name: str, platforms: PlatformCatalog = Provide["platforms.registry"]) -> PlatformAdapter:
    try:
        adapter = platforms.get(name)
    except KeyError:
        abort(404)
    if not adapter.credential_fields:
        abort(404)  # nothing for a creator to paste: connected some other way (a file, the CLI)
    return adapter


@inject
def _connectable(platforms: PlatformCatalog = Provide["platforms.registry"]) -> list[PlatformAdapter]:
    return [p for p in platforms.all() if p.credential_fields]


def _credentials(adapter: PlatformAdapter, form: Mapping[str, str]) -> dict[str, str]:
    return {f.name: form.get(f.name, "") for f in adapter.credential_fields}


def typed_back(adapter: PlatformAdapter, form: Mapping[str, str]) -> dict[str, str]:
    """What the creator typed, to show again on the form after an error; never a secret, which is not
    written back into a page (the page, its cache and a screenshot of it would all carry it)."""
    return {f.name: form.get(f.name, "") for f in adapter.credential_fields if not f.secret}


def _view(connection_id: int) -> ConnectionView:
    try:
        return _service().status(_account_id(), connection_id)
    except UnknownConnection:
        abort(404)


@blueprint.get("/")
@login_required
def index() -> Any:
    return render_template(
        "connections/list.html",
        connections=_service().list(_account_id()),
        platforms=_connectable(),
        label_of=status_label,
    )


@blueprint.route("/new/<platform>", methods=["GET", "POST"])
@login_required
def connect(platform: str) -> Any:
    adapter = _platform(platform)
    if request.method == "GET":
        return render_template("connections/connect.html", platform=adapter, error=None, action="connect")
    try:
        result = _service().connect(_account_id(), adapter.name, _credentials(adapter, request.form))
    except ConnectionFailed as error:
        page = render_template(
            "connections/connect.html",
            platform=adapter,
            error=str(error),
            action="connect",
            typed=typed_back(adapter, request.form),
        )
        return page, 422
    if result.needs_choice:
        return redirect(url_for("connections.choose", connection_id=result.connection.id))
    return redirect(url_for("connections.show", connection_id=result.connection.id))


@blueprint.route("/<int:connection_id>/choose", methods=["GET", "POST"])
@login_required
def choose(connection_id: int) -> Any:
    view = _view(connection_id)
    service = _service()
    if request.method == "POST":
        try:
            service.choose(_account_id(), connection_id, request.form.get("choice", ""))
        except ConnectionFailed as error:
            return _choose_page(view, str(error), 422)
        return redirect(url_for("connections.show", connection_id=connection_id))
    return _choose_page(view, None, 200)


def _choose_page(view: ConnectionView, error: str | None, status: int) -> Any:
    try:
        choices = _service().choices(_account_id(), view.id)
    except ConnectionFailed as problem:
        choices, error = (), str(problem)
    return render_template("connections/choose.html", connection=view, choices=choices, error=error), status


@blueprint.get("/<int:connection_id>")
@login_required
def show(connection_id: int) -> Any:
    view = _view(connection_id)
    return _show_page(view, None, 200)


def _show_page(view: ConnectionView, error: str | None, status: int) -> Any:
    unfinished = _service().unfinished_deliveries(_account_id(), view.id)
    setup = _service().webhook_setup(_account_id(), view.id)
    page = render_template(
        "connections/show.html",
        connection=view,
        label=status_label(view),
        data=as_json(view),
        failed=sum(d.state is DeliveryState.FAILED for d in unfinished),
        retrying=sum(d.state is DeliveryState.RETRYING for d in unfinished),
        setup=setup,
        error=error,
    )
    return page, status


@blueprint.post("/<int:connection_id>/credentials")
@login_required
def complete(connection_id: int) -> Any:
    """The optional credentials pasted after connecting (Stripe's webhook signing secret)."""
    view = _view(connection_id)
    try:
        _service().complete_credentials(_account_id(), connection_id, request.form)
    except ConnectionFailed as error:
        return _show_page(view, str(error), 422)
    return redirect(url_for("connections.show", connection_id=connection_id))


@blueprint.get("/<int:connection_id>/deliveries")
@login_required
def deliveries(connection_id: int) -> Any:
    """The webhook deliveries that failed (the dead letters) or are being retried, with a Replay button."""
    view = _view(connection_id)
    return render_template(
        "connections/deliveries.html",
        connection=view,
        deliveries=_service().unfinished_deliveries(_account_id(), connection_id),
    )


@blueprint.post("/<int:connection_id>/deliveries/<int:delivery_id>/replay")
@login_required
def replay(connection_id: int, delivery_id: int) -> Any:
    try:
        state = _service().replay_delivery(_account_id(), connection_id, delivery_id)
    except (UnknownConnection, UnknownDelivery):
        abort(404)
    if state is DeliveryState.PROCESSED:
        flash("That delivery was already counted; replaying it again changes nothing.", "info")
    else:
        flash("Replaying the delivery now. It leaves this list once it is counted.", "success")
    return redirect(url_for("connections.deliveries", connection_id=connection_id))


@blueprint.route("/<int:connection_id>/reconnect", methods=["GET", "POST"])
@login_required
def reconnect(connection_id: int) -> Any:
    view = _view(connection_id)
    adapter = _platform(view.platform)
    if request.method == "GET":
        return render_template(
            "connections/connect.html", platform=adapter, error=None, action="reconnect", connection=view
        )
    try:
        result = _service().reconnect(_account_id(), connection_id, _credentials(adapter, request.form))
    except ConnectionFailed as error:
        page = render_template(
            "connections/connect.html",
            platform=adapter,
            error=str(error),
            action="reconnect",
            connection=view,
            typed=typed_back(adapter, request.form),
        )
        return page, 422
    if result.needs_choice:
        return redirect(url_for("connections.choose", connection_id=connection_id))
    return redirect(url_for("connections.show", connection_id=connection_id))


@blueprint.post("/<int:connection_id>/disconnect")
@login_required
def disconnect(connection_id: int) -> Any:
    _view(connection_id)
    _service().disconnect(_account_id(), connection_id)
    return redirect(url_for("connections.index"))


@api_blueprint.get("/connections")
@requires_account
@operation(
    "The account's platform connections",
    {200: Answer("Every connection, with its status.", ConnectionListSchema), 401: UNAUTHORIZED},
    security=TOKEN_OR_SESSION,
)
def api_list() -> Any:
    return jsonify(ConnectionListSchema().dump({"connections": _service().list(g.account_id)}))


@api_blueprint.get("/connections/<int:connection_id>")
@requires_account
@operation(
    "One connection's status and sync progress (polled by the connection page)",
    {
        200: Answer("The connection.", ConnectionSchema),
        401: UNAUTHORIZED,
        404: Answer("No such connection on this account.", ErrorSchema),
    },
    security=TOKEN_OR_SESSION,
)
def api_show(connection_id: int) -> Any:
    try:
        view = _service().status(g.account_id, connection_id)
    except UnknownConnection:
        abort(404, description="No such connection.")
    return jsonify(as_json(view))
