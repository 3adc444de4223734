"""The front door: `/` is the product's front page to a visitor and the dashboard to a signed-in creator;
`/favicon.ico` answers browsers that ask for the icon by its old name."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from core.domain.sites import TRIAL_LENGTH
from core.domain.subscriptions import PLAN_PRICE

blueprint = Blueprint("home", __name__)


@blueprint.get("/")
def index() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    return render_template(
        "home/index.html",
        price=f"${PLAN_PRICE.format_major().removesuffix('.00')}",
        trial_days=TRIAL_LENGTH.days,
    )


@blueprint.get("/favicon.ico")
def favicon() -> Any:
    return redirect(url_for("static", filename="favicon.svg"), code=301)
