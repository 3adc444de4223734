"""Security headers and CSRF for the web app.

App pages get a strict Content-Security-Policy: scripts and styles only from our own static files, no
inline code, no framing. Nothing but our static files and the tracker script (which set their own caching)
may be kept by a cache: pages and JSON answers carry account and personal data, so `no-store`. Served
over HTTPS (COURSESIGNAL_BASE_URL starts with https://), every answer carries HSTS for a year.
The tracker's collect endpoint, the API and the webhooks are called by other
sites and by machines: they carry no session form, so CSRF does not apply to them.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_wtf.csrf import CSRFProtect

# Where our own forms may end up: browsers apply form-action to the redirect after a POST too, and the
# Subscribe and Manage billing forms redirect to Stripe's hosted Checkout and Customer Portal.
STRIPE_HOSTED_PAGES = ("https://checkout.stripe.com", "https://billing.stripe.com")
# A year, the usual figure; no includeSubDomains: a creator's other subdomains are not ours to decide.
HSTS = "max-age=31536000"


def content_security_policy(form_targets: tuple[str, ...] = STRIPE_HOSTED_PAGES) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            " ".join(["form-action 'self'", *form_targets]),
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


# Paths called by other origins or by machines, never by our own forms.
CSRF_EXEMPT_PREFIXES = ("/t/", "/api/", "/webhooks/", "/billing/webhook")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

csrf = CSRFProtect()


# The operator console checks its forms itself, after it answered 404 to anyone who is not an operator: a
# creator's POST there must look like one to an address that does not exist, not fail a form check.
CHECKED_BY_BLUEPRINT_PREFIXES = ("/operator/",)


def protect_form() -> None:
    """Refuse an unsafe request without a valid CSRF token (a CSRFError, answered by the app)."""
    if request.method in UNSAFE_METHODS and not request.path.startswith(CSRF_EXEMPT_PREFIXES):
        csrf.protect()


def _protect_forms() -> None:
    if request.routing_exception is not None:
        return  # no such page or method: that 404 or 405 is the answer, not a form error
    if not request.path.startswith(CHECKED_BY_BLUEPRINT_PREFIXES):
        protect_form()


def machine_headers(*, hsts: bool) -> list[tuple[str, str]]:
    """The headers of every answer that is not a page (the collect endpoint's too)."""
    headers = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "strict-origin-when-cross-origin")]
    return [*headers, ("Strict-Transport-Security", HSTS)] if hsts else headers


def _add_headers(response: Response) -> Response:
    for name, value in machine_headers(hsts=bool(current_app.config.get("HSTS"))):
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", current_app.config["CONTENT_SECURITY_POLICY"])
        response.headers.setdefault("X-Frame-Options", "DENY")
    if request.endpoint != "static":
        # Pages, reports, exports and purchases show account and personal data: never keep them in a cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_security(app: Flask) -> None:
    # Checked in _protect_forms instead of everywhere, so the exempt prefixes hold for blueprints yet to come.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    extra_targets = tuple(app.config.get("EXTRA_FORM_TARGETS", ()))
    app.config["CONTENT_SECURITY_POLICY"] = content_security_policy((*STRIPE_HOSTED_PAGES, *extra_targets))
    csrf.init_app(app)
    app.before_request(_protect_forms)
    app.after_request(_add_headers)
