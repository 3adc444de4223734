"""Accounts: signing up, proving an address, signing in and out, passwords, changing the address, deleting it.
The account's sites, API tokens and settings are in account_settings.py, which `Accounts` extends.

Nothing here tells a stranger whether an address has an account: signup, login and password reset answer
the same way (and take about as long) whether or not it does; the mail that goes out is what differs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from core.domain.passwords import WeakPassword, check_password
from core.domain.sites import (
    Account,
)
from core.domain.visitors import normalize_email
from core.ports.clock import Clock
from core.ports.mailer import Mail, Mailer
from core.ports.passwords import PasswordHasher
from core.ports.tokens import AccountLinks, BadToken, ExpiredToken, SignedTokens
from core.ports.uow import UnitOfWork
from core.services.account_settings import AccountSettings, UnknownAccount, UnknownSite
from core.services.beta import start_trial

VERIFY_EMAIL = "verify-email"
RESET_PASSWORD = "reset-password"  # noqa: S105 - a token purpose, not a secret  # nosec B105
CHANGE_EMAIL = "change-email"
VERIFY_MAX_AGE = 3 * 24 * 3600
RESET_MAX_AGE = 3600
CHANGE_EMAIL_MAX_AGE = 24 * 3600

__all__ = [
    "AccountError",
    "Accounts",
    "EmailNotVerified",
    "InvalidLink",
    "LoginFailed",
    "UnknownAccount",
    "UnknownSite",
    "WeakPassword",
    "WrongPassword",
]


class AccountError(Exception):
    """A request a person can fix; `str(error)` says how."""


class LoginFailed(AccountError):
    def __init__(self) -> None:
        # One sentence for a wrong address and a wrong password alike.
        super().__init__("That email and password do not match an account. Check both, or reset your password.")


class EmailNotVerified(AccountError):
    def __init__(self) -> None:
        super().__init__("Confirm your email address first: we have just sent you a new link.")


class WrongPassword(AccountError):
    def __init__(self) -> None:
        super().__init__("Your current password is not right; type it again.")


class InvalidLink(AccountError):
    """A mailed link that is forged, expired or already used."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class SignedIn:
    account: Account

    @property
    def session_version(self) -> int:
        return self.account.session_version


def _password_fingerprint(account: Account) -> str:
    """Changes whenever the password does, which makes a reset link single-use without storing it."""
    return hashlib.sha256((account.password_hash or "").encode()).hexdigest()[:24]


class Accounts(AccountSettings):
    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        *,
        hasher: PasswordHasher | None = None,
        mailer: Mailer | None = None,
        tokens: SignedTokens | None = None,
        links: AccountLinks | None = None,
    ) -> None:
        # The CLI's site and token commands need only the first two; the web's sign-in needs them all.
        super().__init__(uow, clock)
        self._hasher_port = hasher
        self._mailer_port = mailer
        self._tokens_port = tokens
        self._links_port = links
        self._dummy_hash: str | None = None

    # --- the ports the sign-in use cases need ------------------------------------------------------

    @property
    def _hasher(self) -> PasswordHasher:
        if self._hasher_port is None:
            raise RuntimeError("Accounts was built without a PasswordHasher")
        return self._hasher_port

    @property
    def _mailer(self) -> Mailer:
        if self._mailer_port is None:
            raise RuntimeError("Accounts was built without a Mailer")
        return self._mailer_port

    @property
    def _tokens(self) -> SignedTokens:
        if self._tokens_port is None:
            raise RuntimeError("Accounts was built without SignedTokens")
        return self._tokens_port

    @property
    def _links(self) -> AccountLinks:
        if self._links_port is None:
            raise RuntimeError("Accounts was built without AccountLinks")
        return self._links_port

    def _spend_hash_time(self, password: str) -> None:
        """Verify against a throwaway hash, so an unknown address takes as long as a known one."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self._hasher.verify(self._dummy_hash, password)

    # --- signup and verification -------------------------------------------------------------------

    def signup(self, email: str, password: str) -> None:
        """Create an unverified account and mail its verification link.

        An address that already has an account gets a "someone tried to sign up" mail instead, and the
        caller sees the same outcome either way.
        """
        address = _clean_email(email)
        check_password(password, address)
        password_hash = self._hasher.hash(password)
        with self._uow() as uow:
            existing = uow.accounts.get_by_email(address)
            if existing is None:
                account = uow.accounts.add(
                    Account(email=address, created_at=self._clock.now(), password_hash=password_hash)
                )
                uow.commit()
        if existing is None:
            self._send_verification(account)
        else:
            self._mailer.send(
                Mail(
                    to=address,
                    subject="Someone tried to sign up with your address",
                    text=(
                        "Someone (perhaps you) tried to create a CourseSignal account with this email address, "
                        "which already has one.\n\n"
                        f"To sign in: {self._links.login()}\n"
                        f"Forgot your password? Reset it here: {self._links.forgot_password()}\n\n"
                        "If it was not you, you can ignore this message: nothing has changed."
                    ),
                )
            )

    def _send_verification(self, account: Account) -> None:
        assert account.id is not None
        token = self._tokens.issue(VERIFY_EMAIL, {"a": account.id, "e": account.email})
        self._mailer.send(
            Mail(
                to=account.email,
                subject="Confirm your email address for CourseSignal",
                text=(
                    "Welcome to CourseSignal. Confirm your address to start your 14-day free trial:\n\n"
                    f"{self._links.verify_email(token)}\n\n"
                    "The link works once, for 3 days. If you did not sign up, ignore this message."
                ),
            )
        )

    def resend_verification(self, email: str) -> None:
        """Send a new link to an unverified account; do nothing, silently, for any other address."""
        address = normalize_email(email)
        if address is None:
            return
        with self._uow() as uow:
            account = uow.accounts.get_by_email(address)
        if account is not None and not account.is_verified:
            self._send_verification(account)

    def verify_email(self, token: str) -> Account:
        """Mark the address proven and start the trial; the link works once."""
        payload = self._read(VERIFY_EMAIL, token, VERIFY_MAX_AGE)
        with self._uow() as uow:
            account = uow.accounts.get(int(payload["a"]))
            if account is None or account.email != payload["e"]:
                raise InvalidLink("This confirmation link is no longer valid. Sign up again or request a new link.")
            if account.is_verified:
                raise InvalidLink("This link has already been used: your address is confirmed, so sign in.")
            start_trial(uow, account, self._clock.now())
            uow.accounts.update(account)
            uow.commit()
            return account

    # --- login and logout --------------------------------------------------------------------------

    def login(self, email: str, password: str) -> SignedIn:
        address = normalize_email(email)
        with self._uow() as uow:
            account = uow.accounts.get_by_email(address) if address else None
            if account is None or account.password_hash is None:
                self._spend_hash_time(password)
                raise LoginFailed()
            if not self._hasher.verify(account.password_hash, password):
                raise LoginFailed()
            if self._hasher.needs_rehash(account.password_hash):
                account.password_hash = self._hasher.hash(password)
                uow.accounts.update(account)
                uow.commit()
        if not account.is_verified:
            self._send_verification(account)
            raise EmailNotVerified()
        return SignedIn(account)

    def session_is_current(self, account_id: int, session_version: int) -> Account | None:
        """The account when a session signed in under `session_version` may go on; None when it is over."""
        with self._uow() as uow:
            account = uow.accounts.get(account_id)
        if account is None or account.session_version != session_version or not account.is_verified:
            return None
        return account

    def end_all_sessions(self, account_id: int) -> None:
        """Sign the account out everywhere: every session and "remember me" cookie made before now stops working."""
        with self._uow() as uow:
            account = uow.accounts.get(account_id)
            if account is None:
                return
            account.session_version += 1
            uow.accounts.update(account)
            uow.commit()

    # --- passwords ---------------------------------------------------------------------------------

    def request_password_reset(self, email: str) -> None:
        """Mail a reset link when the address has an account; otherwise do nothing, and say the same."""
        address = normalize_email(email)
        if address is None:
            return
        with self._uow() as uow:
            account = uow.accounts.get_by_email(address)
        if account is None or account.id is None:
            return
        token = self._tokens.issue(RESET_PASSWORD, {"a": account.id, "p": _password_fingerprint(account)})
        self._mailer.send(
            Mail(
                to=account.email,
                subject="Reset your CourseSignal password",
                text=(
                    "Someone (perhaps you) asked to reset the password of your CourseSignal account.\n\n"
                    f"Choose a new password here: {self._links.reset_password(token)}\n\n"
                    "The link works once, for one hour. If it was not you, ignore this message: "
                    "your password has not changed."
                ),
            )
        )

    def check_reset_link(self, token: str) -> Account:
        """The account a reset link is for; raises InvalidLink when it is expired, used or forged."""
        payload = self._read(RESET_PASSWORD, token, RESET_MAX_AGE)
        with self._uow() as uow:
            account = uow.accounts.get(int(payload["a"]))
        if account is None or not hmac.compare_digest(str(payload["p"]), _password_fingerprint(account)):
            raise InvalidLink("This reset link has already been used. Request a new one if you still need it.")
        return account

    def reset_password(self, token: str, new_password: str) -> Account:
        """Set a new password from a mailed link; signs the account out everywhere else."""
        account = self.check_reset_link(token)
        check_password(new_password, account.email)
        old_hash = account.password_hash
        account.password_hash = self._hasher.hash(new_password)
        account.session_version += 1
        with self._uow() as uow:
            if not account.is_verified:
                start_trial(uow, account, self._clock.now())  # the link reached the inbox: the address is proven
            # The link is single-use because it names the password it replaces: a second use of it, even
            # one racing this one, finds that password gone and changes nothing.
            if not uow.accounts.update_if_password_is(account, old_hash):
                raise InvalidLink("This reset link has already been used. Request a new one if you still need it.")
            uow.commit()
        return account

    def change_password(self, account_id: int, current_password: str, new_password: str) -> Account:
        account = self._with_password(account_id, current_password)
        check_password(new_password, account.email)
        account.password_hash = self._hasher.hash(new_password)
        account.session_version += 1
        with self._uow() as uow:
            uow.accounts.update(account)
            uow.commit()
        return account

    def _with_password(self, account_id: int, password: str) -> Account:
        with self._uow() as uow:
            account = uow.accounts.get(account_id)
        if account is None:
            raise UnknownAccount(f"no account {account_id}")
        if account.password_hash is None or not self._hasher.verify(account.password_hash, password):
            raise WrongPassword()
        return account

    # --- changing the address, deleting the account ------------------------------------------------

    def request_email_change(self, account_id: int, password: str, new_email: str) -> None:
        """Mail a confirmation link to the new address; the address changes only when it is followed."""
        account = self._with_password(account_id, password)
        address = _clean_email(new_email)
        if address == account.email:
            raise AccountError("That is already your address.")
        with self._uow() as uow:
            taken = uow.accounts.get_by_email(address) is not None
        if taken:
            # The new address's owner learns of the attempt; the person asking learns nothing.
            self._mailer.send(
                Mail(
                    to=address,
                    subject="Someone tried to move a CourseSignal account to your address",
                    text=(
                        "Someone asked to change the address of a CourseSignal account to this one, which "
                        "already has an account, so nothing was changed. If it was you, sign in to the account "
                        f"that uses this address instead: {self._links.login()}"
                    ),
                )
            )
            return
        token = self._tokens.issue(CHANGE_EMAIL, {"a": account_id, "old": account.email, "new": address})
        self._mailer.send(
            Mail(
                to=address,
                subject="Confirm your new CourseSignal address",
                text=(
                    f"Confirm that CourseSignal should write to this address from now on:\n\n"
                    f"{self._links.confirm_email_change(token)}\n\n"
                    "The link works once, for 24 hours. If you did not ask for this, ignore this message."
                ),
            )
        )

    def confirm_email_change(self, token: str) -> Account:
        payload = self._read(CHANGE_EMAIL, token, CHANGE_EMAIL_MAX_AGE)
        old, new = str(payload["old"]), str(payload["new"])
        with self._uow() as uow:
            account = uow.accounts.get(int(payload["a"]))
            if account is None or account.email != old:
                raise InvalidLink("This link has already been used, or the address changed since it was sent.")
            if uow.accounts.get_by_email(new) is not None:
                raise InvalidLink("Another account uses that address now, so yours was not changed.")
            account.email = new
            account.email_verified_at = self._clock.now()
            uow.accounts.update(account)
            uow.commit()
        self._mailer.send(
            Mail(
                to=old,
                subject="Your CourseSignal address was changed",
                text=(
                    f"Your CourseSignal account now uses {new}. If you did not do this, reset your password "
                    f"from {self._links.forgot_password()} and write to us."
                ),
            )
        )
        return account

    def delete_account(
        self, account_id: int, password: str, *, before_deleting: Callable[[Account], None] | None = None
    ) -> None:
        """Delete the account and everything it owns: sites, visitors, purchases, tokens. There is no undo.

        `before_deleting` runs once the password is checked (ending the paid plan); if it raises, nothing
        is deleted.
        """
        account = self._with_password(account_id, password)
        if before_deleting is not None:
            before_deleting(account)
        with self._uow() as uow:
            uow.accounts.delete(account_id)
            uow.commit()
        self._mailer.send(
            Mail(
                to=account.email,
                subject="Your CourseSignal account was deleted",
                text="Your CourseSignal account and all its data have been deleted. Thank you for trying it.",
            )
        )

    def _read(self, purpose: str, token: str, max_age: int) -> dict[str, str | int]:
        try:
            return self._tokens.read(purpose, token, max_age)
        except ExpiredToken:
            raise InvalidLink("This link has expired. Ask for a new one below.", expired=True) from None
        except BadToken:
            raise InvalidLink("This link is not valid; it may have been cut short. Ask for a new one below.") from None

    # --- accounts an operator or the simulator sets up (sites, tokens, settings: account_settings.py) ----

    def ensure_account(self, email: str) -> Account:
        address = normalize_email(email)
        if address is None:
            raise ValueError(f"not an email address: {email!r}")
        with self._uow() as uow:
            account = uow.accounts.get_by_email(address)
            if account is None:
                account = uow.accounts.add(Account(email=address, created_at=self._clock.now()))
                uow.commit()
            return account

    def create_verified_account(self, email: str, password: str) -> Account:
        """An account that can sign in at once, its trial started: for accounts an operator sets up (the demo).

        Raises ValueError when the address is already taken, WeakPassword for a password signup would refuse.
        """
        address = _clean_email(email)
        check_password(password, address)
        password_hash = self._hasher.hash(password)
        with self._uow() as uow:
            if uow.accounts.get_by_email(address) is not None:
                raise ValueError(f"{address} already has an account")
            account = uow.accounts.add(
                Account(email=address, created_at=self._clock.now(), password_hash=password_hash)
            )
            start_trial(uow, account, self._clock.now())
            uow.accounts.update(account)
            uow.commit()
            return account


def _clean_email(email: str) -> str:
    address = normalize_email(email)
    if address is None:
        raise AccountError("That does not look like an email address; check it for typos.")
    return address
