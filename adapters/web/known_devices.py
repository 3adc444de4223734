"""Devices an account has signed in from: a signed cookie that lets its owner past the per-account login limit.

Login attempts are limited per address and per account. The per-account limit stops guesses spread over
many addresses, but anyone could use it to lock a creator out; so a browser that has signed in to the account
before (it holds this cookie, which only a correct password or a mailed reset link sets) is never held back
by it, only by the per-address limit. A creator on a new device waits out the window at worst, or signs in
through a password reset link at once.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import Request, Response, current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.domain.visitors import normalize_email

COOKIE = "cs_device"
REMEMBERED_FOR = timedelta(days=365)
# A shared computer may be used for a few accounts; older ones fall off.
MOST_ACCOUNTS = 5


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="coursesignal-known-device")


def _digest(email: str | None) -> str | None:
    address = normalize_email(email)
    return hashlib.sha256(address.encode()).hexdigest()[:32] if address else None


def _accounts_on(request: Request) -> list[str]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return []
    try:
        accounts = _serializer().loads(raw, max_age=int(REMEMBERED_FOR.total_seconds()))
    except BadSignature:
        return []
    return [a for a in accounts if isinstance(a, str)] if isinstance(accounts, list) else []


def is_known_device(request: Request, email: str | None) -> bool:
    """Whether this browser has signed in as `email` before."""
    digest = _digest(email)
    return digest is not None and digest in _accounts_on(request)


def remember_device(request: Request, response: Response, email: str) -> None:
    """Mark this browser as one `email` signs in from (after a correct password or a reset link)."""
    digest = _digest(email)
    if digest is None:
        return
    accounts = [digest, *(a for a in _accounts_on(request) if a != digest)][:MOST_ACCOUNTS]
    response.set_cookie(
        COOKIE,
        _serializer().dumps(accounts),
        max_age=int(REMEMBERED_FOR.total_seconds()),
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )


def submitted_account(request: Request) -> str:
    """The rate-limit key of the account a login form names: a digest, so no address is kept in Redis."""
    return _digest(request.form.get("email")) or "no-address"
