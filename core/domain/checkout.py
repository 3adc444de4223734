"""Reaching checkout: the moment a visitor is about to pay, used to match purchases by timing.

A table of rules, not code paths, so a new platform's checkout is one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

# A purchase this long after a visitor reached checkout can still be theirs; longer, and too many other
# visitors could have reached checkout in between.
CHECKOUT_WINDOW = timedelta(minutes=30)

# Hosts that only ever serve checkout pages (a page view there, or a click to one, is reaching checkout).
CHECKOUT_HOSTS = frozenset(
    {
        "checkout.stripe.com",
        "buy.stripe.com",
        "pay.kajabi.com",
        "checkout.kajabi.com",
        "sso.teachable.com",
        "checkout.teachable.com",
        "checkout.paddle.com",
        "pay.gumroad.com",
        "www.paypal.com",
        "paypal.com",
    }
)

# Paths that are checkout pages on any host: Kajabi's /offers/<id>/checkout, Teachable's
# /purchase?product_id=..., a creator's own /checkout.
CHECKOUT_PATHS = (
    re.compile(r"/checkout(/|$)"),
    re.compile(r"^/offers/[^/]+/checkout"),
    re.compile(r"^/purchase(/|$)"),
    re.compile(r"^/secure/\d+/checkout"),
    re.compile(r"^/cart(/|$)"),
)


def is_checkout_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    path = parts.path.lower()
    return host in CHECKOUT_HOSTS or any(rule.search(path) for rule in CHECKOUT_PATHS)


@dataclass(frozen=True, slots=True)
class CheckoutReach:
    visitor_id: int
    fingerprint: str | None
    reached_at: datetime


class Tie:
    """Two different browsers fit a purchase equally: it stays unmatched rather than guessing."""


TIE = Tie()


def checkout_candidate(
    reaches: list[CheckoutReach], purchased_at: datetime, window: timedelta = CHECKOUT_WINDOW
) -> list[CheckoutReach] | Tie | None:
    """The checkout reaches of the one browser that can have made a purchase, by timing.

    Candidates reached checkout within the window before the purchase. They group by fingerprint (one
    browser handed from one of the creator's domains to another has two visitor ids but one fingerprint;
    the caller checks that such ids are joined). Exactly one group, with a fingerprint, is a match; none
    is None; more than one, or one without a fingerprint, is a tie.
    """
    fitting = [r for r in reaches if purchased_at - window <= r.reached_at <= purchased_at]
    if not fitting:
        return None
    fingerprints = {r.fingerprint for r in fitting}
    if len(fingerprints) != 1 or None in fingerprints:
        return TIE
    return sorted(fitting, key=lambda r: (r.reached_at, r.visitor_id))
