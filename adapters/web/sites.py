"""The creator's sites and each site's tracking settings: its other domains (cross-domain linking, and
referrers that are not a source) and whether it respects Global Privacy Control / Do Not Track.

The settings travel in the snippet as attributes (`data-domains`, `data-respect-gpc`): /t.js stays one
static file, the same bytes for every site, cached by browsers and CDNs under one strong ETag. The server
applies the stored settings too: referrer exclusion reads the domains when it processes events, and a site
that respects GPC drops events from browsers sending it even under a snippet pasted before the change.
"""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, TextAreaField
from wtforms.validators import DataRequired, Length

from core.domain.sites import MAX_CHECKOUT_PATHS, MAX_SITE_DOMAINS, Site, tracking_snippet
from core.services.accounts import Accounts, UnknownSite

blueprint = Blueprint("sites", __name__, url_prefix="/sites")


class SiteSettingsForm(FlaskForm):  # type: ignore[misc]
    domains = TextAreaField(
        "Your domains",
        validators=[
            DataRequired("Enter at least your website's domain."),
            Length(max=MAX_SITE_DOMAINS * 260, message="That is more domains than a site can list."),
        ],
        description=(
            "One per line: your main site first, then every other domain your visitors move between before they "
            "buy (a school, a checkout or booking domain). Visits coming from these are not counted as a source, "
            "and links between them keep one visitor one visitor."
        ),
        render_kw={"rows": 5, "autocomplete": "off", "spellcheck": "false"},
    )
    respect_gpc = BooleanField(
        "Respect Global Privacy Control and Do Not Track: browsers that send them are not tracked at all"
    )
    checkout_paths = TextAreaField(
        "Your own checkout pages (optional)",
        validators=[Length(max=MAX_CHECKOUT_PATHS * 101, message="That is more paths than a site can list.")],
        description=(
            "Only if you sell through a checkout of your own whose address has no /checkout, /purchase or /cart in "
            "it: the start of its path, one per line (/order, /buy-now). Stripe, Kajabi, Teachable and PayPal "
            "checkouts are known already."
        ),
        render_kw={"rows": 2, "autocomplete": "off", "spellcheck": "false"},
    )


def _site_or_404(accounts: Accounts, site_id: int) -> Site:
    try:
        return accounts.site_of(int(current_user.id), site_id)
    except UnknownSite:
        abort(404)


@blueprint.get("/")
@login_required
@inject
def index(accounts: Accounts = Provide["services.accounts"]) -> Any:
    return render_template("sites/list.html", sites=accounts.sites_of(int(current_user.id)))


@blueprint.route("/<int:site_id>/settings", methods=["GET", "POST"])
@login_required
@inject
def settings(site_id: int, accounts: Accounts = Provide["services.accounts"]) -> Any:
    site = _site_or_404(accounts, site_id)
    form = SiteSettingsForm()
    if form.validate_on_submit():
        lines = form.domains.data.replace(",", "\n").splitlines()
        paths = (form.checkout_paths.data or "").replace(",", "\n").splitlines()
        try:
            site = accounts.update_site_settings(
                int(current_user.id), site_id, lines, bool(form.respect_gpc.data), checkout_paths=paths
            )
        except ValueError as error:
            if str(error).startswith("not the start of a path") or "checkout paths" in str(error):
                form.checkout_paths.errors.append(f"{_domain_problem(error)} Enter each like /order, one per line.")
            else:
                form.domains.errors.append(
                    f"{_domain_problem(error)} Enter each like academy.example.com, one per line."
                )
        else:
            flash("Saved. Replace the snippet on your pages with the one below so the script knows too.", "success")
            return redirect(url_for("sites.settings", site_id=site_id))
    elif not form.is_submitted():
        form.domains.data = "\n".join(site.allowed_domains)
        form.respect_gpc.data = site.respect_gpc
        form.checkout_paths.data = "\n".join(site.checkout_paths)
    snippet = tracking_snippet(current_app.config["BASE_URL"], site)
    return render_template("sites/settings.html", site=site, form=form, snippet=snippet)


def _domain_problem(error: ValueError) -> str:
    message = str(error)
    if message.startswith("not a domain name: "):
        value = message.removeprefix("not a domain name: ").strip("'\"")
        return f"“{value}” is not a domain name."
    if message.startswith("not the start of a path: "):
        value = message.removeprefix("not the start of a path: ").strip("'\"")
        return f"“{value}” is not the start of a path."
    return message[:1].upper() + message[1:] + "."
