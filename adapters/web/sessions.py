"""Who is signed in: flask-login over Flask's signed session cookie, with a per-account session version.

The id kept in the session (and in the "remember me" cookie) is "<account id>:<session version>"; logging
out or changing the password bumps the version, which ends every other session and remember cookie.
"""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject
from flask import session
from flask_login import LoginManager, UserMixin, login_user

from core.domain.sites import Account
from core.services.accounts import Accounts


class SignedInAccount(UserMixin):  # type: ignore[misc]
    def __init__(self, account: Account) -> None:
        assert account.id is not None
        self.id = account.id
        self.account = account

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_version}"


@inject
def load_account(session_id: str, accounts: Accounts = Provide["services.accounts"]) -> SignedInAccount | None:
    account_id, _, version = session_id.partition(":")
    if not (account_id.isdigit() and version.isdigit()):
        return None
    account = accounts.session_is_current(int(account_id), int(version))
    return SignedInAccount(account) if account is not None else None


def start_session(account: Account, *, remember: bool = False) -> None:
    """Sign in on a fresh session: whatever the cookie held before (a planted session id too) is dropped."""
    session.clear()
    login_user(SignedInAccount(account), remember=remember)


def init_sessions(login_manager: LoginManager) -> None:
    login_manager.user_loader(load_account)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
