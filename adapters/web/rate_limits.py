"""Rate limits on the forms people can hammer: login, signup, password reset, verification resend.

Counters live in Redis when COURSESIGNAL_REDIS_URL is set (shared by every gunicorn instance) and in
process memory otherwise. When Redis is down or hangs, a form still answers: the limiter waits at most
REDIS_TIMEOUT_SECONDS for it, then counts in this process's memory (the same limits, per instance) until
Redis answers again. Each app gets its own Limiter, made in `init_rate_limits`, so nothing is configured
at import time and two apps in one process never share counters by accident.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.jobs.rq_queue import REDIS_TIMEOUT_SECONDS
from adapters.web.collect import is_public_tracker_path
from adapters.web.known_devices import is_known_device, submitted_account

LOGIN = "10 per minute;100 per hour"
# Failed logins to one account from anywhere, except from browsers that have signed in to it before
# (known_devices): guesses spread over many addresses stop here, and the owner is never locked out by them.
ACCOUNT_LOGIN = "10 per 15 minutes"
ACCOUNT_LOCKED = (
    "Too many failed sign-ins to this account from new devices. Wait 15 minutes, or reset your password "
    "to sign in at once."
)
SIGNUP = "5 per minute;30 per hour"
PASSWORD_RESET = "5 per minute;30 per hour"  # noqa: S105 - a rate, not a secret  # nosec B105
VERIFICATION_RESEND = "3 per minute;20 per hour"

# Only POSTs count: showing a form again is free, submitting it is what gets guessed at.
LIMITED_ENDPOINTS = {
    "auth.login": LOGIN,
    "auth.signup": SIGNUP,
    "auth.forgot_password": PASSWORD_RESET,
    "auth.reset_password": PASSWORD_RESET,
    "auth.resend_verification": VERIFICATION_RESEND,
}


def init_rate_limits(app: Flask) -> Limiter:
    """Call after the blueprints are registered: it wraps their view functions."""
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=app.config.get("RATELIMIT_STORAGE_URI", "memory://"),
        key_prefix=app.config.get("RATELIMIT_KEY_PREFIX", "coursesignal-limits"),
        headers_enabled=True,
        # Redis down or frozen: count in memory rather than fail the form (flask-limiter checks Redis again
        # with a growing pause and goes back to it once it answers).
        in_memory_fallback_enabled=True,
        storage_options={
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "retry": Retry(NoBackoff(), 0),
        },
    )
    # The tracker's endpoints have their own limits (adapters/rate_limiters.py): Flask-Limiter, which has
    # nothing to count there, leaves them at once instead of resolving limits on every event.
    limiter.request_filter(lambda: is_public_tracker_path(request.path))
    for endpoint, rate in LIMITED_ENDPOINTS.items():
        app.view_functions[endpoint] = limiter.limit(rate, methods=["POST"])(app.view_functions[endpoint])
    app.view_functions["auth.login"] = limiter.limit(
        ACCOUNT_LOGIN,
        key_func=lambda: f"account:{submitted_account(request)}",
        methods=["POST"],
        exempt_when=lambda: is_known_device(request, request.form.get("email")),
        deduct_when=_failed_login,
        error_message=ACCOUNT_LOCKED,
    )(app.view_functions["auth.login"])
    return limiter


def _failed_login(response: Response) -> bool:
    return response.status_code != 302  # signed in: a redirect on; a failure shows the form again
