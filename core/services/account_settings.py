"""What an account holds and sets once it exists: its sites (and their settings), personal API tokens, display
settings and the operator grant; the part of the accounts service the CLI and the API use without signing in."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence

from core.domain.display import DisplaySettings
from core.domain.sites import (
    Account,
    Site,
    new_site_key,
    normalize_checkout_paths,
    normalize_domain,
    normalize_domains,
)
from core.domain.visitors import normalize_email
from core.ports.clock import Clock
from core.ports.uow import UnitOfWork

API_TOKEN_PREFIX = "cs_pat_"  # noqa: S105 - a public prefix, not a secret  # nosec B105


class UnknownAccount(LookupError):
    pass


class UnknownSite(LookupError):
    pass


def hash_api_token(token: str) -> str:
    # Tokens are long random strings, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class AccountSettings:
    """Sites, tokens and settings of an account; `Accounts` adds signing up and in on top."""

    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def _account_id(self, uow: UnitOfWork, email: str) -> int:
        account = uow.accounts.get_by_email(normalize_email(email) or "")
        if account is None or account.id is None:
            raise UnknownAccount(f"no account for {email}")
        return account.id

    def add_site(self, email: str, domains: Iterable[str]) -> Site:
        allowed = tuple(dict.fromkeys(normalize_domain(d) for d in domains))
        with self._uow() as uow:
            site = uow.sites.add(
                Site(account_id=self._account_id(uow, email), public_key=new_site_key(), allowed_domains=allowed)
            )
            uow.commit()
            return site

    def grant_operator(self, email: str) -> Account:
        """Let the account see the operator console (from the command line only); granting twice keeps the
        first date. UnknownAccount when nobody signed up with that address."""
        with self._uow() as uow:
            account = uow.accounts.get(self._account_id(uow, email))
            assert account is not None  # type narrowing: _account_id found it
            if account.operator_since is None:
                account.operator_since = self._clock.now()
                uow.accounts.update(account)
                uow.commit()
            return account

    def revoke_operator(self, email: str) -> bool:
        """Take the operator console away; False when the account was not an operator."""
        with self._uow() as uow:
            account = uow.accounts.get(self._account_id(uow, email))
            assert account is not None  # type narrowing: _account_id found it
            if account.operator_since is None:
                return False
            account.operator_since = None
            uow.accounts.update(account)
            uow.commit()
            return True

    def get(self, account_id: int) -> Account | None:
        with self._uow() as uow:
            return uow.accounts.get(account_id)

    def display_settings(self, account_id: int) -> DisplaySettings:
        """The locale, time zone and report currency the account's pages use."""
        with self._uow() as uow:
            return uow.display_settings.get(account_id)

    def change_display_settings(self, account_id: int, settings: DisplaySettings) -> None:
        with self._uow() as uow:
            uow.display_settings.set(account_id, settings)
            uow.commit()

    def sites_of(self, account_id: int) -> Sequence[Site]:
        with self._uow() as uow:
            return uow.sites.list_for_account(account_id)

    def site_of(self, account_id: int, site_id: int) -> Site:
        """The account's site; UnknownSite for another account's site exactly as for a missing one."""
        with self._uow() as uow:
            site = uow.sites.get_for_account(account_id, site_id)
        if site is None:
            raise UnknownSite(f"no site {site_id} for account {account_id}")
        return site

    def update_site_settings(
        self,
        account_id: int,
        site_id: int,
        domains: Iterable[str],
        respect_gpc: bool,
        checkout_paths: Iterable[str] | None = None,
    ) -> Site:
        """Set the site's domains (cross-domain linking, and referrers that are not a source), whether it
        respects Global Privacy Control and, when given, its own checkout paths; ValueError when a domain is not
        one or a path not a path."""
        allowed = normalize_domains(domains)
        paths = normalize_checkout_paths(checkout_paths) if checkout_paths is not None else None
        with self._uow() as uow:
            site = uow.sites.get_for_account(account_id, site_id)
            if site is None:
                raise UnknownSite(f"no site {site_id} for account {account_id}")
            site.allowed_domains = allowed
            site.respect_gpc = respect_gpc
            if paths is not None:
                site.checkout_paths = paths
            uow.sites.update_settings(site)
            uow.commit()
            return site

    def site(self, public_key: str) -> Site | None:
        with self._uow() as uow:
            return uow.sites.get_by_key(public_key)

    def sites(self, account_id: int) -> list[Site]:
        with self._uow() as uow:
            return list(uow.sites.list_for_account(account_id))

    def issue_api_token(self, email: str, name: str = "cli") -> str:
        """A new personal API token; only its hash is kept, so this is the one time it is shown."""
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._uow() as uow:
            uow.api_tokens.add(self._account_id(uow, email), hash_api_token(token), name, self._clock.now())
            uow.commit()
        return token

    def account_for_token(self, token: str) -> int | None:
        if not token.startswith(API_TOKEN_PREFIX):
            return None
        with self._uow() as uow:
            account_id = uow.api_tokens.account_id_for(hash_api_token(token), self._clock.now())
            uow.commit()
            return account_id
