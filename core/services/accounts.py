"""Accounts, their sites and their personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable

from core.domain.sites import Account, Site, new_site_key, normalize_domain
from core.domain.visitors import normalize_email
from core.ports.clock import Clock
from core.ports.uow import UnitOfWork

API_TOKEN_PREFIX = "cs_pat_"  # noqa: S105 - a public prefix, not a secret


class UnknownAccount(LookupError):
    pass


def hash_api_token(token: str) -> str:
    # Tokens are long random strings, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

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

    def get(self, account_id: int) -> Account | None:
        with self._uow() as uow:
            return uow.accounts.get(account_id)

    def site(self, public_key: str) -> Site | None:
        with self._uow() as uow:
            return uow.sites.get_by_key(public_key)

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
