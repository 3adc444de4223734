"""The Flask application factory. The shell wires services in before calling it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Flask, jsonify
from flask_login import LoginManager, UserMixin
from werkzeug.exceptions import HTTPException

from adapters.web import api, collect, dashboard, health, openapi
from core.services.accounts import Accounts


class SignedInAccount(UserMixin):  # type: ignore[misc]
    def __init__(self, account_id: int) -> None:
        self.id = account_id


@inject
def load_account(account_id: str, accounts: Accounts = Provide["services.accounts"]) -> SignedInAccount | None:
    if not account_id.isdigit() or accounts.get(int(account_id)) is None:
        return None
    return SignedInAccount(int(account_id))


def create_app(config: Mapping[str, Any]) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)

    login_manager = LoginManager(app)
    login_manager.user_loader(load_account)

    for blueprint in (health.blueprint, collect.blueprint, api.blueprint, openapi.blueprint, dashboard.blueprint):
        app.register_blueprint(blueprint)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Any, int]:
        return jsonify(error=error.description or error.name), error.code or 500

    return app
