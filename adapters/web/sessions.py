"""Who is signed in: flask-login over Flask's signed session cookie, with a per-account session version.

The id kept in the session (and in the "remember me" cookie) is "<account id>:<session version>:<signed in
at>", the last part in whole seconds since the epoch. Logging out or changing the password bumps the
version, which ends every other session and remember cookie.

Two timeouts are enforced on the server, on the clock port, whatever the browser keeps:
- absolute: a sign-in lasts SESSION_ABSOLUTE_TIMEOUT at most (30 days), remember cookie included, since
  the sign-in time is part of the signed id;
- idle: a session without "keep me signed in" ends after SESSION_IDLE_TIMEOUT (12 hours) without a
  request. The time of the last request is kept in the signed session cookie, so the browser cannot
  move it. "Keep me signed in" is exactly the promise not to do that, so it only has the absolute one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dependency_injector.wiring import Provide, inject
from flask import Flask, current_app, flash, request, session
from flask_login import LoginManager, UserMixin, login_user, logout_user

from core.domain.sites import Account
from core.ports.clock import Clock
from core.services.accounts import Accounts

DEFAULT_IDLE_TIMEOUT = timedelta(hours=12)
DEFAULT_ABSOLUTE_TIMEOUT = timedelta(days=30)
# Only rewrite the cookie for the idle clock once a minute, not on every request.
_SEEN_RESOLUTION_SECONDS = 60
_SEEN = "cs_seen"
_REMEMBERED = "cs_remember"


class SignedInAccount(UserMixin):  # type: ignore[misc]
    def __init__(self, account: Account, signed_in_at: int) -> None:
        assert account.id is not None  # type narrowing: a stored account always has an id
        self.id = account.id
        self.account = account
        self.signed_in_at = signed_in_at

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_version}:{self.signed_in_at}"


def _timeout(name: str, default: timedelta) -> timedelta:
    value = current_app.config.get(name, default)
    return value if isinstance(value, timedelta) else timedelta(seconds=int(value))


@inject
def _now(clock: Clock = Provide["gateways.clock"]) -> datetime:
    return clock.now()


@inject
def load_account(session_id: str, accounts: Accounts = Provide["services.accounts"]) -> SignedInAccount | None:
    parts = session_id.split(":")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None  # ids from before sign-in times were kept: sign in again
    account_id, version, signed_in_at = (int(part) for part in parts)
    lifetime = _timeout("SESSION_ABSOLUTE_TIMEOUT", DEFAULT_ABSOLUTE_TIMEOUT)
    if _now().timestamp() - signed_in_at > lifetime.total_seconds():
        return None
    account = accounts.session_is_current(account_id, version)
    return SignedInAccount(account, signed_in_at) if account is not None else None


def start_session(account: Account, *, remember: bool = False) -> None:
    """Sign in on a fresh session: whatever the cookie held before (a planted session id too) is dropped."""
    session.clear()
    now = int(_now().timestamp())
    login_user(SignedInAccount(account, now), remember=remember)
    session[_SEEN] = now
    session[_REMEMBERED] = remember


def _end_idle_sessions() -> None:
    if "_user_id" not in session:
        return
    now = int(_now().timestamp())
    seen = session.get(_SEEN)
    if not isinstance(seen, int):
        # Restored from a remember cookie (flask-login starts a new session from it): remembered by definition.
        session[_SEEN], session[_REMEMBERED] = now, True
        return
    idle = _timeout("SESSION_IDLE_TIMEOUT", DEFAULT_IDLE_TIMEOUT)
    if not session.get(_REMEMBERED) and now - seen > idle.total_seconds():
        logout_user()
        session.clear()
        if request.method == "GET":
            hours = round(idle.total_seconds() / 3600)
            flash(f"You were signed out after {hours} hours without activity. Sign in again to go on.", "info")
        return
    if now - seen >= _SEEN_RESOLUTION_SECONDS:
        session[_SEEN] = now


def init_sessions(app: Flask, login_manager: LoginManager) -> None:
    login_manager.user_loader(load_account)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.before_request(_end_idle_sessions)
