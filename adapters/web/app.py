"""The Flask application factory. The shell wires services in before calling it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Flask, Request, jsonify, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from adapters.web import (
    api,
    auth,
    billing,
    collect,
    connections,
    dashboard,
    health,
    onboarding,
    openapi,
    sites,
    webhooks,
)
from adapters.web.rate_limits import init_rate_limits
from adapters.web.security import CSRF_EXEMPT_PREFIXES, init_security
from adapters.web.sessions import init_sessions
from core.ports.clock import Clock

log = logging.getLogger(__name__)

# Endpoints answered to machines: errors there stay JSON or plain text, never a page.
_MACHINE_PREFIXES = (*CSRF_EXEMPT_PREFIXES, "/openapi.json", "/healthz", "/readyz")


class _NoSessionOnPublicTrackerPaths(SecureCookieSessionInterface):
    """The tracker's script and collect endpoint never touch a session: no cookie is read or set and the
    script's response carries no `Vary: Cookie`, so every cache can share it."""

    def open_session(self, app: Flask, incoming: Request) -> SecureCookieSession | None:
        if collect.is_public_tracker_path(incoming.path):
            return None
        return super().open_session(app, incoming)


@inject
def _page_context(clock: Clock = Provide["gateways.clock"]) -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {"trial_days_left": None}
    return {"trial_days_left": current_user.account.trial_days_left(clock.now())}


def create_app(config: Mapping[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=timedelta(days=30),
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,  # the largest CSV upload, with room for the form around it
    )
    app.config.update(config)
    app.session_interface = _NoSessionOnPublicTrackerPaths()

    login_manager = LoginManager(app)
    init_sessions(login_manager)
    init_security(app)

    for blueprint in (
        health.blueprint,
        collect.blueprint,
        api.blueprint,
        openapi.blueprint,
        auth.blueprint,
        onboarding.blueprint,
        dashboard.blueprint,
        billing.blueprint,
        billing.webhook_blueprint,
        webhooks.blueprint,
        connections.blueprint,
        connections.api_blueprint,
        sites.blueprint,
    ):
        app.register_blueprint(blueprint)
    app.extensions["coursesignal.limiter"] = init_rate_limits(app)

    app.context_processor(_page_context)

    def wants_page() -> bool:
        return not request.path.startswith(_MACHINE_PREFIXES) and request.accept_mimetypes.accept_html

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[Any, int]:
        log.info("CSRF check failed on %s: %s", request.path, error.description)
        message = "This form has expired or was sent from another site. Reload the page and try again."
        return render_template("error.html", title="Please try again", message=message), 400

    @app.errorhandler(429)
    def too_many(error: HTTPException) -> tuple[Any, int]:
        message = "Too many attempts in a short time. Wait a minute, then try again."
        if wants_page():
            return render_template("error.html", title="Slow down a little", message=message), 429
        return jsonify(error=message), 429

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Any, int]:
        code = error.code or 500
        if wants_page():
            message = {
                404: "There is nothing here. Check the address, or go back to your dashboard.",
                405: "That page cannot be used this way. Go back and use the form on the page.",
                413: "That file is too large. Split it into smaller files and upload them one by one.",
            }.get(code, error.description or error.name)
            return render_template("error.html", title=error.name, message=message), code
        return jsonify(error=error.description or error.name), code

    return app
