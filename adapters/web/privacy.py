"""Privacy: the public opt-out page a creator links from their privacy policy, the signed-in Privacy page
(export and erase a student, export the account), and the same requests over the API.

Opting out is recorded where the tracker reads it: in the browser's storage on the creator's own domain,
which `https://<their domain>/?cs_optout=1` (or `cs('optout')`) writes. Our hosted page cannot write there,
so it links to it for each of the site's domains. It also sets a cookie on our own domain that the collect
endpoint honours when the browser sends it along (browsers that allow third-party cookies): a second line
of defence, not the main one. See docs/privacy.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, ClassVar

from dependency_injector.wiring import Provide, inject
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from marshmallow import EXCLUDE, Schema, fields, validate
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from adapters.web.api import requires_account
from adapters.web.api_schemas import UNAUTHORIZED
from adapters.web.contract import ANY_OBJECT, TOKEN_OR_SESSION, Answer, ErrorSchema, operation
from core.domain.sites import Site
from core.services.accounts import Accounts
from core.services.privacy import PersonNotFound, Privacy, PrivacyRequestInvalid

log = logging.getLogger(__name__)
blueprint = Blueprint("privacy", __name__, url_prefix="/privacy")
api_blueprint = Blueprint("privacy_api", __name__, url_prefix="/api/v1/privacy")

# Set on our domain by the hosted opt-out page; the collect endpoint stores nothing from a browser sending it.
OPT_OUT_COOKIE = "cs_optout"
OPT_OUT_SECONDS = 5 * 365 * 24 * 3600
ERASE_CONFIRMATION = "erase"


def opt_out_link(domain: str) -> str:
    """The link that opts a browser out on the creator's own domain, where the tracker keeps its flag."""
    return f"https://{domain}/?cs_optout=1"


def readable_duration(days: int) -> str:
    """A retention period as a creator says it: "2 years", "18 months", "30 days", rounded to the largest
    unit it is within about six weeks of (761 days, 2 years and a month, reads "2 years")."""
    years = round(days / 365.25)
    if years >= 1 and abs(days - years * 365.25) <= 45:
        count, unit = years, "year"
    elif days >= 60:
        count, unit = round(days / 30.44), "month"
    else:
        count, unit = days, "day"
    return f"{count} {unit}{'' if count == 1 else 's'}"


# --- the public opt-out page --------------------------------------------------------------------------


class PlainForm(FlaskForm):  # type: ignore[misc]
    """Nothing but the CSRF token: for a button."""


@inject
def _site(site_key: str, accounts: Accounts = Provide["services.accounts"]) -> Site:
    site = accounts.site(site_key)
    if site is None:
        abort(404)
    return site


def _opt_out_page(site: Site, *, opted_out: bool, status: int = 200) -> tuple[str, int]:
    domains = sorted(site.allowed_domains)
    page = render_template(
        "privacy/optout.html",
        site=site,
        links=[(domain, opt_out_link(domain)) for domain in domains],
        opted_out=opted_out,
        form=PlainForm(),
    )
    return page, status


@blueprint.get("/optout/<site_key>")
def opt_out_page(site_key: str) -> Any:
    site = _site(site_key)
    return _opt_out_page(site, opted_out=request.cookies.get(OPT_OUT_COOKIE) == "1")


def _set_opt_out_cookie(response: Response, value: str, max_age: int) -> None:
    secure = current_app.config["BASE_URL"].startswith("https://")
    # SameSite=None so the browser may send it with the tracker's requests from the creator's pages; browsers
    # accept that only on HTTPS (on plain HTTP it is first-party only, which still covers this page).
    response.set_cookie(
        OPT_OUT_COOKIE,
        value,
        max_age=max_age,
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",
        path="/",
    )


def _record_choice(site_key: str, *, opted_out: bool) -> Any:
    """Answer the opt-out or opt-in form: the page as it now stands, with the cookie set or cleared."""
    site = _site(site_key)
    if not PlainForm().validate_on_submit():
        return _opt_out_page(site, opted_out=not opted_out, status=400)
    page, status = _opt_out_page(site, opted_out=opted_out)
    response = Response(page, status=status, mimetype="text/html")
    if opted_out:
        _set_opt_out_cookie(response, "1", OPT_OUT_SECONDS)
    else:
        _set_opt_out_cookie(response, "", 0)
    return response


@blueprint.post("/optout/<site_key>")
def opt_out(site_key: str) -> Any:
    return _record_choice(site_key, opted_out=True)


@blueprint.post("/optin/<site_key>")
def opt_in(site_key: str) -> Any:
    return _record_choice(site_key, opted_out=False)


# --- the signed-in Privacy page -----------------------------------------------------------------------


class PersonForm(FlaskForm):  # type: ignore[misc]
    email = StringField(
        "The person's email address",
        validators=[Optional(), Length(max=254)],
        render_kw={"autocomplete": "off", "inputmode": "email"},
    )
    visitor_id = StringField(
        "Or their visitor id",
        description="The id the tracker keeps in the _csv cookie of their browser, if they sent it to you.",
        validators=[Optional(), Length(max=64)],
        render_kw={"autocomplete": "off"},
    )


class EraseForm(PersonForm):
    confirm = StringField(
        f'Type "{ERASE_CONFIRMATION}" to confirm',
        validators=[DataRequired(f'Type "{ERASE_CONFIRMATION}" to confirm.')],
        render_kw={"autocomplete": "off"},
    )


@inject
def _privacy_page(
    *,
    export_form: PersonForm | None = None,
    erase_form: EraseForm | None = None,
    status: int = 200,
    accounts: Accounts = Provide["services.accounts"],
    privacy: Privacy = Provide["services.privacy"],
) -> tuple[str, int]:
    sites = accounts.sites(current_user.id)
    page = render_template(
        "privacy/index.html",
        sites=[
            (
                site,
                # On the installation's own address, like every link a creator hands out.
                current_app.config["BASE_URL"] + url_for("privacy.opt_out_page", site_key=site.public_key),
                sorted(site.allowed_domains),
            )
            for site in sites
        ],
        opt_out_link=opt_out_link,
        export_form=export_form or PersonForm(prefix="export"),
        erase_form=erase_form or EraseForm(prefix="erase"),
        account_form=PlainForm(prefix="account"),
        retention=readable_duration(privacy.event_retention.days),
    )
    return page, status


@blueprint.get("/")
@login_required
def index() -> Any:
    return _privacy_page()


def _download(payload: dict[str, Any], name: str) -> Response:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    response = Response(json.dumps(payload, indent=2, ensure_ascii=False), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/export")
@login_required
@inject
def export_person(privacy: Privacy = Provide["services.privacy"]) -> Any:
    form = PersonForm(prefix="export")
    if form.validate_on_submit():
        try:
            payload = privacy.export_person(current_user.id, email=form.email.data, visitor_key=form.visitor_id.data)
        except (PrivacyRequestInvalid, PersonNotFound) as error:
            form.email.errors.append(str(error))
        else:
            return _download(payload, "coursesignal-person-export")
    return _privacy_page(export_form=form, status=400)


@blueprint.post("/erase")
@login_required
@inject
def erase_person(privacy: Privacy = Provide["services.privacy"]) -> Any:
    form = EraseForm(prefix="erase")
    if form.validate_on_submit():
        if form.confirm.data.strip().lower() != ERASE_CONFIRMATION:
            form.confirm.errors.append(f'Type the word "{ERASE_CONFIRMATION}" to confirm.')
        else:
            try:
                report = privacy.erase_person(current_user.id, email=form.email.data, visitor_key=form.visitor_id.data)
            except PrivacyRequestInvalid as error:
                form.email.errors.append(str(error))
            else:
                flash(_erased_message(report.visitors_erased, report.purchases_detached, report.request_id), "success")
                return redirect(url_for("privacy.index"))
    return _privacy_page(erase_form=form, status=400)


def _erased_message(visitors: int, purchases: int, request_id: str) -> str:
    if not visitors and not purchases:
        return f"Nothing was stored about that person; nothing to erase (request {request_id})."
    return (
        f"Erased: {visitors} browser{'s' if visitors != 1 else ''} with their visits, and the buyer's details "
        f"on {purchases} purchase{'s' if purchases != 1 else ''} (their amounts stay in your totals). "
        f"Request {request_id}."
    )


@blueprint.post("/account-export")
@login_required
@inject
def export_account(privacy: Privacy = Provide["services.privacy"]) -> Any:
    form = PlainForm(prefix="account")
    if not form.validate_on_submit():
        return _privacy_page(status=400)
    return _download(privacy.export_account(current_user.id), "coursesignal-account-export")


# --- the API ------------------------------------------------------------------------------------------


class PersonQuery(Schema):
    email = fields.String(metadata={"format": "email"})
    visitor_id = fields.String(
        metadata={"description": "Instead of email: the id the tracker keeps in the browser's _csv cookie."}
    )


class PersonBody(Schema):
    """Who to erase: exactly one of an email and a visitor id. Other keys are ignored."""

    class Meta:
        unknown = EXCLUDE
        description = "Exactly one of email and visitor_id."

    error_messages: ClassVar[dict[str, str]] = {
        "type": 'Send a JSON object: {"email": "..."} or {"visitor_id": "..."}.'
    }
    email = fields.String(
        allow_none=True, error_messages={"invalid": "email and visitor_id are strings."}, metadata={"format": "email"}
    )
    visitor_id = fields.String(allow_none=True, error_messages={"invalid": "email and visitor_id are strings."})


class PersonExportSchema(Schema):
    """What the export of one person holds (core/services/privacy.py writes it)."""

    class Meta:
        unknown = EXCLUDE

    kind = fields.String(required=True, validate=validate.OneOf(["coursesignal.person_export"]))
    exported_at = fields.DateTime(required=True)
    emails = fields.List(fields.String(), required=True)
    visitor_ids = fields.List(fields.String(), required=True)
    tables = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()), required=True)


class ErasureSchema(Schema):
    request_id = fields.String()
    visitors_erased = fields.Integer()
    purchases_detached = fields.Integer()
    purchases_reattributed = fields.Integer()
    deliveries_redacted = fields.Integer(
        metadata={"description": "Raw platform deliveries the person was erased from."}
    )


_NEITHER_OR_BOTH = Answer("Neither or both of email and visitor_id.", ErrorSchema)


def _api_error(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def requires_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """After requires_account: a browser's session cookie is not enough; a signed-in creator uses the page's form."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.headers.get("Authorization") is None:
            return _api_error("Erasing needs 'Authorization: Bearer <token>'; in the app, use the Privacy page.", 401)
        return view(*args, **kwargs)

    return wrapper


@api_blueprint.get("/export")
@requires_account
@operation(
    "Everything stored about one student (a data subject access request), as JSON",
    {
        200: Answer(
            "The person's emails and visitor ids, and every stored row about them by table (visitors, sessions, "
            "events, visitor_emails, visitor_handoffs, checkout_reaches, purchases, refunds, attributions, "
            "purchase_touches, revenue_lines).",
            PersonExportSchema,
        ),
        400: _NEITHER_OR_BOTH,
        401: UNAUTHORIZED,
        404: Answer("Nothing is stored about this person.", ErrorSchema),
    },
    query=PersonQuery,
    security=TOKEN_OR_SESSION,
)
@inject
def api_export_person(query: dict[str, str], privacy: Privacy = Provide["services.privacy"]) -> Any:
    try:
        payload = privacy.export_person(g.account_id, email=query.get("email"), visitor_key=query.get("visitor_id"))
    except PrivacyRequestInvalid as error:
        return _api_error(str(error), 400)
    except PersonNotFound as error:
        return _api_error(str(error), 404)
    return jsonify(payload)


@api_blueprint.post("/erase")
@requires_account
@requires_token
@operation(
    "Erase one student: visits, events and identities go; their purchases lose the buyer",
    {
        200: Answer("What was erased, in counts; request_id names the erasure in the log.", ErasureSchema),
        400: _NEITHER_OR_BOTH,
        401: UNAUTHORIZED,
    },
    description="Bearer token only (a session cookie is refused). Purchases stay in the revenue totals with status "
    "erased; purchases the erased visits took part in are attributed again.",
    body=PersonBody,
    security=("bearer",),
)
@inject
def api_erase_person(body: dict[str, str | None], privacy: Privacy = Provide["services.privacy"]) -> Any:
    try:
        report = privacy.erase_person(g.account_id, email=body.get("email"), visitor_key=body.get("visitor_id"))
    except PrivacyRequestInvalid as error:
        return _api_error(str(error), 400)
    return jsonify(ErasureSchema().dump(report))


@api_blueprint.get("/account")
@requires_account
@operation(
    "Everything held for your own account, as JSON (secrets left out)",
    {
        200: Answer(
            "The account, its sites, connections, billing state, purchases and their attribution by table, and how "
            "many visitor-level rows it holds.",
            ANY_OBJECT,
        ),
        401: UNAUTHORIZED,
    },
    security=TOKEN_OR_SESSION,
)
@inject
def api_export_account(privacy: Privacy = Provide["services.privacy"]) -> Any:
    return jsonify(privacy.export_account(g.account_id))
