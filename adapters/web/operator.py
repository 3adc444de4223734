"""The operator console under /operator/: the business metrics across all accounts.

It exists only for accounts granted the operator role from the command line (`coursesignal operator
grant`). To everyone else, signed in or not, every address under /operator/ answers 404, exactly as an
address that does not exist: a creator cannot tell the console is there.
"""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, abort, render_template
from flask_login import current_user

from core.services.metrics import Metrics

blueprint = Blueprint("operator", __name__, url_prefix="/operator")


@blueprint.before_request
def _operators_only() -> None:
    # The account is read afresh on every request (sessions.load_account), so a revoke applies at once.
    if not current_user.is_authenticated or not current_user.account.is_operator:
        abort(404)


# No slash-adding redirect for /operator: it would tell a stranger that something lives there.
@blueprint.get("/", strict_slashes=False)
@inject
def index(metrics: Metrics = Provide["services.metrics"]) -> Any:
    report = metrics.report()
    return render_template("operator/index.html", report=report)
