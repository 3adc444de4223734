"""Accounts own sites; a site is one creator's web presence with its public tracking key."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.domain.touches import is_same_site


def new_site_key() -> str:
    """A public, unguessable site key as it appears in the snippet's data-site attribute."""
    return "cs_" + secrets.token_urlsafe(12)


def normalize_domain(raw: str) -> str:
    domain = raw.strip().lower().rstrip(".")
    for prefix in ("https://", "http://"):
        domain = domain.removeprefix(prefix)
    domain = domain.split("/", 1)[0].split(":", 1)[0].removeprefix("www.")
    if not domain or "." not in domain or any(c.isspace() for c in domain):
        raise ValueError(f"not a domain name: {raw!r}")
    return domain


# A site lists few domains (its main site, a school, a checkout domain); more is a typo or a paste gone wrong.
MAX_SITE_DOMAINS = 20
MAX_CHECKOUT_PATHS = 10


def normalize_checkout_paths(raw: Iterable[str]) -> tuple[str, ...]:
    """A creator's own checkout pages, as the starts of their paths (`/order`, `/buy-now`): lower case (the
    tracker compares them so), repeats removed, order kept; ValueError naming the first that is not a path."""
    paths = []
    for line in raw:
        path = line.strip().lower()
        if not path:
            continue
        if not path.startswith("/") or len(path) < 2 or len(path) > 100 or not re.fullmatch(r"/[a-z0-9/_.~-]*", path):
            raise ValueError(f"not the start of a path: {line.strip()!r}")
        paths.append(path)
    paths = list(dict.fromkeys(paths))
    if len(paths) > MAX_CHECKOUT_PATHS:
        raise ValueError(f"a site lists at most {MAX_CHECKOUT_PATHS} checkout paths")
    return tuple(paths)


def normalize_domains(raw: Iterable[str]) -> tuple[str, ...]:
    """Each domain normalized, repeats removed, order kept; ValueError naming the first one that is not a
    domain name, or when there are none or too many."""
    domains = tuple(dict.fromkeys(normalize_domain(d) for d in raw if d.strip()))
    if not domains:
        raise ValueError("a site needs at least one domain")
    if len(domains) > MAX_SITE_DOMAINS:
        raise ValueError(f"a site lists at most {MAX_SITE_DOMAINS} domains")
    return domains


# The free trial: it starts when the address is proven (a beta member's lasts BETA_DAYS instead).
TRIAL_LENGTH = timedelta(days=14)


@dataclass(slots=True)
class Account:
    email: str
    created_at: datetime
    id: int | None = None
    password_hash: str | None = None
    email_verified_at: datetime | None = None
    trial_ends_at: datetime | None = None
    # Bumped at logout and password change: a session signed in under an older version is over.
    session_version: int = 0
    # Granted from the command line only (`coursesignal operator grant`): sees the operator console.
    operator_since: datetime | None = None

    @property
    def is_operator(self) -> bool:
        return self.operator_since is not None

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    def verify_email(self, now: datetime) -> None:
        """The address is proven; the free trial starts now (once, even when the address changes later)."""
        self.email_verified_at = now
        if self.trial_ends_at is None:
            self.trial_ends_at = now + TRIAL_LENGTH


@dataclass(slots=True)
class Site:
    account_id: int
    public_key: str
    allowed_domains: tuple[str, ...] = field(default_factory=tuple)
    id: int | None = None
    # Stay silent for browsers that send Global Privacy Control or Do Not Track.
    respect_gpc: bool = False
    # The creator's own checkout pages, beside the platforms' (core/domain/checkout.py): starts of paths.
    checkout_paths: tuple[str, ...] = ()

    @property
    def own_domains(self) -> frozenset[str]:
        return frozenset(self.allowed_domains)

    def owns_host(self, host: str) -> bool:
        return is_same_site(host, self.own_domains)


def tracking_snippet(base_url: str, site: Site) -> str:
    """The line a creator pastes into their pages, carrying the site's settings: the one script file stays
    the same for every site (and cached everywhere), the snippet says what differs."""
    attributes = [f'data-site="{site.public_key}"']
    if len(site.allowed_domains) > 1:
        attributes.append(f'data-domains="{",".join(site.allowed_domains)}"')
    if site.respect_gpc:
        attributes.append('data-respect-gpc="1"')
    if site.checkout_paths:
        attributes.append(f'data-checkout="{",".join(site.checkout_paths)}"')
    return f'<script async src="{base_url}/t.js" {" ".join(attributes)}></script>'
