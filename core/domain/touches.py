"""Touches: one arrival of a visitor at the creator's site, with where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.domain.channels import Channel
from core.domain.source_tables import CLICK_ID_PARAMS
from core.domain.sources import classify

UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_URL_LENGTH = 2000

# Hosts a visitor passes through on the way to paying; arriving back from them is not a new source.
PAYMENT_HOSTS = frozenset(
    {
        "checkout.stripe.com",
        "buy.stripe.com",
        "pay.stripe.com",
        "stripe.com",
        "hooks.stripe.com",
        "paypal.com",
        "www.paypal.com",
        "sso.teachable.com",
        "checkout.teachable.com",
        "app.kajabi.com",
        "checkout.kajabi.com",
        "pay.kajabi.com",
        "paddle.com",
        "checkout.paddle.com",
    }
)


def host_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def is_same_site(host: str, domains: frozenset[str]) -> bool:
    """True when `host` is one of `domains` or a subdomain of one (www.example.com on example.com)."""
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


@dataclass(frozen=True, slots=True)
class Touch:
    source: str
    channel: Channel
    occurred_at: datetime
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    referrer_host: str | None = None
    landing_page: str | None = None
    click_id: str | None = None  # the parameter's name (gclid...), never its value
    utm_source: str | None = None  # the utm_source value as the link carried it ("yt"), before naming it

    @property
    def is_direct(self) -> bool:
        return self.channel is Channel.DIRECT

    @property
    def campaign_key(self) -> tuple[str, str | None, str | None]:
        """What makes two arrivals the same campaign: a different key starts a new session."""
        return (self.source, self.medium, self.campaign)


def _clean(value: str | None, limit: int = 200) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value[:limit] or None


def strip_identifying_params(url: str) -> str:
    """The landing page without click id values or our own hand-off parameters."""
    parts = urlsplit(url)
    kept = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in CLICK_ID_PARAMS and not k.startswith("_cs")
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))[:MAX_URL_LENGTH]


def utm_values(url: str) -> dict[str, str | None]:
    """The UTM parameters of a URL as the link carried them, trimmed (absent or blank: None)."""
    query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=False))
    return {name: _clean(query.get(name)) for name in UTM_PARAMS}


def touch_from_landing(*, url: str, referrer: str | None, occurred_at: datetime, own_domains: frozenset[str]) -> Touch:
    """Derive the touch of a page view from its URL and referrer.

    Referrers on the creator's own domains or on payment and checkout hosts are ignored: coming back from
    Stripe's checkout is not a visit from Stripe.
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=False))
    utm = utm_values(url)
    click_ids = frozenset(p for p in CLICK_ID_PARAMS if query.get(p))
    referrer_host: str | None = None
    android_app: str | None = None
    if referrer:
        if referrer.startswith("android-app://"):
            android_app = referrer[len("android-app://") :].split("/", 1)[0] or None
        else:
            host = host_of(referrer)
            scheme = urlsplit(referrer).scheme if host else ""
            ignored = own_domains | PAYMENT_HOSTS | {"localhost", "127.0.0.1"}
            if host and scheme in ("http", "https") and not is_same_site(host, frozenset(ignored)):
                referrer_host = host
    classification = classify(
        utm_source=utm["utm_source"],
        utm_medium=utm["utm_medium"],
        click_ids=click_ids,
        referrer_host=referrer_host,
        android_app=android_app,
    )
    return Touch(
        source=classification.source,
        channel=classification.channel,
        occurred_at=occurred_at,
        medium=utm["utm_medium"],
        campaign=utm["utm_campaign"],
        term=utm["utm_term"],
        content=utm["utm_content"],
        referrer_host=referrer_host or android_app,
        landing_page=strip_identifying_params(url),
        click_id=min(click_ids) if click_ids else None,
        utm_source=utm["utm_source"],
    )
