"""The Flask application factory. The shell wires services in before calling it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, Request, Response, g, jsonify, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from adapters.structured_logs import redact_path
from adapters.web import (
    api,
    auth,
    beta,
    billing,
    collect,
    connections,
    dashboard,
    health,
    home,
    onboarding,
    openapi,
    operator,
    privacy,
    sites,
    sources,
    webhooks,
)
from adapters.web.contract import FRONT_ROUTES
from adapters.web.navigation import main_menu, section_tabs
from adapters.web.rate_limits import init_rate_limits
from adapters.web.request_log import SERVER_ERROR, init_request_log
from adapters.web.security import CSRF_EXEMPT_PREFIXES, init_security
from adapters.web.sessions import DEFAULT_ABSOLUTE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, init_sessions

log = logging.getLogger(__name__)

# Endpoints answered to machines: errors there stay JSON or plain text, never a page.
_MACHINE_PREFIXES = (*CSRF_EXEMPT_PREFIXES, "/openapi.json", "/healthz", "/readyz")

# What a person reads on an error page: what happened and what to do next, never a stack trace.
_PAGE_MESSAGES = {
    400: "The request could not be understood. Go back, reload the page and try again.",
    404: "There is nothing here. Check the address, or go back to your dashboard.",
    405: "That page cannot be used this way. Go back and use the form on the page.",
    413: "That file is too large. Split it into smaller files and upload them one by one.",
}
_KEPT_ERROR_HEADERS = frozenset({"Allow", "WWW-Authenticate", "Retry-After"})
# The bare page used when even the error template cannot be rendered (the database is down, say).
_FALLBACK_PAGE = "<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>"


class _NoSessionOnPublicTrackerPaths(SecureCookieSessionInterface):
    """The tracker's script and collect endpoint never touch a session: no cookie is read or set and the
    script's response carries no `Vary: Cookie`, so every cache can share it."""

    def open_session(self, app: Flask, incoming: Request) -> SecureCookieSession | None:
        if collect.is_public_tracker_path(incoming.path):
            return None
        return super().open_session(app, incoming)


# The largest row id the database can hold (BIGINT on PostgreSQL, INTEGER on SQLite: both 64-bit, signed).
MAX_ROW_ID = 2**63 - 1


class _RowIdConverter(IntegerConverter):
    """`<int:...>` in every route: a number no row can have is no match (404), never an overflow in a query."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: Mapping[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SESSION_IDLE_TIMEOUT=DEFAULT_IDLE_TIMEOUT,
        SESSION_ABSOLUTE_TIMEOUT=DEFAULT_ABSOLUTE_TIMEOUT,
        TRUSTED_PROXIES=0,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=timedelta(days=30),
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=25 * 1024 * 1024,  # the largest CSV upload, with room for the form around it
    )
    app.config.update(config)
    # The remember cookie cannot outlive the sign-in it remembers.
    app.config["REMEMBER_COOKIE_DURATION"] = min(
        app.config["REMEMBER_COOKIE_DURATION"], app.config["SESSION_ABSOLUTE_TIMEOUT"]
    )
    app.session_interface = _NoSessionOnPublicTrackerPaths()
    app.url_map.converters["int"] = _RowIdConverter
    collect_endpoint = collect.CollectEndpoint(app.wsgi_app, hsts=bool(app.config.get("HSTS")))
    app.wsgi_app = collect_endpoint  # type: ignore[method-assign]
    app.extensions[FRONT_ROUTES] = collect_endpoint.routes()
    hops = int(app.config["TRUSTED_PROXIES"])
    if hops > 0:
        # Behind N proxies we run ourselves, the client is the Nth address from the right of X-Forwarded-For;
        # the host stays ours (BASE_URL), so no proxy header can change the links we send.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    init_request_log(app)
    login_manager = LoginManager(app)
    init_sessions(app, login_manager)
    init_security(app)

    for blueprint in (
        health.blueprint,
        collect.blueprint,
        api.blueprint,
        openapi.blueprint,
        home.blueprint,
        auth.blueprint,
        onboarding.blueprint,
        dashboard.blueprint,
        billing.blueprint,
        billing.webhook_blueprint,
        webhooks.blueprint,
        connections.blueprint,
        connections.api_blueprint,
        privacy.blueprint,
        privacy.api_blueprint,
        sites.blueprint,
        sources.blueprint,
        operator.blueprint,
        beta.blueprint,
    ):
        app.register_blueprint(blueprint)
    app.extensions["coursesignal.limiter"] = init_rate_limits(app)

    app.jinja_env.globals.update(main_menu=main_menu, section_tabs=section_tabs)

    def wants_page() -> bool:
        return not request.path.startswith(_MACHINE_PREFIXES) and request.accept_mimetypes.accept_html

    def error_response(
        code: int, title: str, message: str, machine_message: str | None = None, *, page: bool | None = None
    ) -> Any:
        if collect.is_public_tracker_path(request.path):
            response = Response(machine_message or message, status=code, mimetype="text/plain")
            response.headers["Access-Control-Allow-Origin"] = "*"
            return response
        if not (wants_page() if page is None else page):
            return jsonify(error=machine_message or message), code
        try:
            return render_template("error.html", title=title, message=message), code
        except Exception:
            log.exception("the error page could not be rendered; answered a bare one")
            return Response(
                _FALLBACK_PAGE.format(title=escape(title), message=escape(message)), status=code, mimetype="text/html"
            )

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Any:
        log.info("CSRF check failed on %s: %s", redact_path(request.path), error.description)
        message = "This form has expired or was sent from another site. Reload the page and try again."
        # Only our own forms are CSRF-checked, and a form is always a page.
        return error_response(400, "Please try again", message, error.description, page=True)

    @app.errorhandler(429)
    def too_many(error: HTTPException) -> Any:
        limit = getattr(error, "limit", None)
        message = (
            getattr(limit, "error_message", None) or "Too many attempts in a short time. Wait a minute, then try again."
        )
        return error_response(429, "Slow down a little", message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        code = error.code or 500
        if code >= 500:
            return server_error(error)
        message = _PAGE_MESSAGES.get(code, error.description or error.name)
        response = app.make_response(error_response(code, error.name, message, error.description or error.name))
        # What the error itself says about the next request: `Allow` on a 405, `WWW-Authenticate` on a 401.
        for name, value in error.get_headers():
            if name in _KEPT_ERROR_HEADERS:
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def server_error(error: Exception) -> Any:
        # The traceback goes to the log, under the request id the person is shown as a reference.
        if not isinstance(error, HTTPException):
            log.error(
                "unhandled %s on %s %s", type(error).__name__, request.method, redact_path(request.path), exc_info=error
            )
        code = error.code or 500 if isinstance(error, HTTPException) else 500
        message = SERVER_ERROR.format(reference=g.get("request_id", "unknown"))
        return error_response(code, "Something went wrong", message)

    return app
