"""Rate limits on the forms people can hammer: login, signup, password reset, verification resend.

Counters live in Redis when COURSESIGNAL_REDIS_URL is set (shared by every gunicorn instance) and in
process memory otherwise. The limiter is configured per app in `create_app` (init_app), so defining it
here connects to nothing.
"""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

LOGIN = "10 per minute;100 per hour"
SIGNUP = "5 per minute;30 per hour"
PASSWORD_RESET = "5 per minute;30 per hour"  # noqa: S105 - a rate, not a secret
VERIFICATION_RESEND = "3 per minute;20 per hour"
