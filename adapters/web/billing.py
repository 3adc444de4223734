"""The Billing page, Checkout and Customer Portal redirects, and the webhook Stripe calls about our billing.

This is CourseSignal charging creators; creators' own Stripe sales come in through /webhooks/stripe/...
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, current_app, g, jsonify, redirect, render_template, request
from flask_login import current_user, login_required
from marshmallow import Schema, fields

from adapters.web.contract import ANY_OBJECT, Answer, ErrorSchema, operation
from core.domain.storable import nesting_problem
from core.ports.billing import BillingUnavailable, ForgedBillingEvent, UnreadableBillingEvent
from core.services.stripe_events import EventOutcome
from core.services.subscriptions import BillingActionRefused, BillingOverview, Subscriptions

log = logging.getLogger(__name__)

blueprint = Blueprint("billing", __name__)
# Its own blueprint so CSRF protection, which every form gets, can exempt exactly this endpoint.
webhook_blueprint = Blueprint("billing_webhook", __name__)

MAX_WEBHOOK_BYTES = 1024 * 1024
_CHECKOUT_MESSAGES = {
    "success": "Thank you! Your subscription starts as soon as Stripe confirms the payment, usually within seconds.",
    "canceled": "Checkout was canceled; nothing was charged.",
}


def _billing_page_url() -> str:
    # From configuration, never from the request's Host header, since these URLs are handed to Stripe.
    return f"{current_app.config['BASE_URL']}/billing"


def _account_id() -> int:
    return int(current_user.id)


@inject
def current_billing_overview(
    subscriptions: Subscriptions = Provide["services.subscriptions"],
) -> BillingOverview | None:
    """The signed-in creator's billing overview, or None for a visitor."""
    if not current_user.is_authenticated:
        return None
    return subscriptions.overview(_account_id())


@blueprint.app_context_processor
def _billing_in_templates() -> dict[str, Any]:
    # A function, not a value: only pages that show the trial's days left (the base layout) pay for the query.
    return {"billing_overview": current_billing_overview}


@blueprint.get("/billing")
@login_required  # type: ignore[misc]
@inject
def page(subscriptions: Subscriptions = Provide["services.subscriptions"]) -> str:
    checkout = request.args.get("checkout", "")
    # Back from a paid Checkout, the subscription exists at Stripe before its webhook lands here: no second
    # Subscribe button meanwhile.
    return _render(subscriptions, message=_CHECKOUT_MESSAGES.get(checkout), awaiting_checkout=checkout == "success")


def _render(
    subscriptions: Subscriptions, message: str | None = None, error: str | None = None, awaiting_checkout: bool = False
) -> str:
    return render_template(
        "billing/billing.html",
        overview=subscriptions.overview(_account_id()),
        message=message,
        error=error,
        awaiting_checkout=awaiting_checkout,
    )


@blueprint.post("/billing/checkout")
@login_required  # type: ignore[misc]
@inject
def checkout(subscriptions: Subscriptions = Provide["services.subscriptions"]) -> Any:
    try:
        url = subscriptions.start_checkout(
            _account_id(),
            success_url=f"{_billing_page_url()}?checkout=success",
            cancel_url=f"{_billing_page_url()}?checkout=canceled",
        )
    except BillingActionRefused as refused:
        return _render(subscriptions, error=str(refused)), 409
    except BillingUnavailable as unavailable:
        return _render(subscriptions, error=str(unavailable)), 503
    return redirect(url, code=303)


@blueprint.post("/billing/portal")
@login_required  # type: ignore[misc]
@inject
def portal(subscriptions: Subscriptions = Provide["services.subscriptions"]) -> Any:
    try:
        url = subscriptions.open_portal(_account_id(), return_url=_billing_page_url())
    except BillingActionRefused as refused:
        return _render(subscriptions, error=str(refused)), 409
    except BillingUnavailable as unavailable:
        return _render(subscriptions, error=str(unavailable)), 503
    return redirect(url, code=303)


class _StripeHeaders(Schema):
    signature = fields.String(required=True, data_key="Stripe-Signature")


class BillingReceiptSchema(Schema):
    received = fields.Boolean()
    outcome = fields.Enum(EventOutcome, by_value=fields.String)


@webhook_blueprint.post("/billing/webhook")
@operation(
    "Stripe's events about CourseSignal's own billing (not creators' sales)",
    {
        200: Answer(
            "Received: applied, or nothing to change (stale, repeated, unused, unknown).", BillingReceiptSchema
        ),
        400: Answer(
            "Forged or stale signature, or a body that is not a Stripe event (each with its own error sentence); "
            "nothing changed.",
            ErrorSchema,
        ),
        413: Answer("Larger than a Stripe event can be; nothing changed.", ErrorSchema),
        503: Answer("Billing is not configured on this server.", ErrorSchema),
    },
    description="Signed by Stripe (Stripe-Signature, checked on the raw body, 5 minutes' tolerance). Handles "
    "checkout.session.completed, customer.subscription.created/updated/deleted/trial_will_end, invoice.paid, "
    "invoice.payment_failed and invoice.payment_action_required; other types are acknowledged and ignored, as are "
    "repeated event ids.",
    headers=_StripeHeaders,
    body=ANY_OBJECT,
    parses_body=False,  # the signature covers the exact bytes Stripe sent
)
@inject
def stripe_webhook(subscriptions: Subscriptions = Provide["services.subscriptions"]) -> Any:
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        return jsonify(error="The event is larger than a Stripe event can be."), 413
    body = request.get_data()
    if problem := nesting_problem(body):
        return jsonify(error=f"The event {problem}; no Stripe event does."), 400
    try:
        # The signature covers the exact bytes Stripe sent: never a re-serialized body.
        outcome = subscriptions.receive_webhook(body, request.headers.get("Stripe-Signature"))
    except ForgedBillingEvent as forged:
        log.warning("Refused a delivery to /billing/webhook: %s", forged)
        return jsonify(
            error="The Stripe-Signature does not match this endpoint's signing secret or is more than 5 minutes "
            "old: check that STRIPE_WEBHOOK_SECRET is this endpoint's secret."
        ), 400
    except UnreadableBillingEvent as unreadable:
        log.warning("Refused a delivery to /billing/webhook: %s", unreadable)
        return jsonify(
            error="The body is not a Stripe event (UTF-8 JSON with an id, a type and data.object), so nothing was "
            "done: send the event exactly as Stripe sent it."
        ), 400
    except BillingUnavailable as unavailable:
        return jsonify(error=str(unavailable)), 503
    return jsonify(BillingReceiptSchema().dump({"received": True, "outcome": outcome}))


@inject
def _can_view_reports(account_id: int, subscriptions: Subscriptions = Provide["services.subscriptions"]) -> bool:
    return subscriptions.can_view_reports(account_id)


def requires_reports_access(view: Callable[..., Any]) -> Callable[..., Any]:
    """After requires_account: an expired trial or ended subscription gets 402 and a way to subscribe.

    Collection goes on and nothing is deleted; only the reports wait for a subscription.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _can_view_reports(g.account_id):
            response: Response = jsonify(
                error="Your free trial or subscription has ended. Tracking keeps running and nothing is deleted: "
                f"subscribe at {_billing_page_url()} to see your reports again."
            )
            response.status_code = 402
            return response
        return view(*args, **kwargs)

    return wrapper
