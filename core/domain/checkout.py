"""Reaching checkout: the moment a visitor is about to pay, used to match purchases by timing.

Two patterns, not code paths, so a new platform's checkout is a word in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from core.domain.identities import EmailClaim

# A purchase this long after a visitor reached checkout can still be theirs; longer, and too many other
# visitors could have reached checkout in between.
CHECKOUT_WINDOW = timedelta(minutes=30)

# Checkout pages, the same rules as the tracker's (tracker/src/t.js; a browser test keeps the two in
# step): hosts that only ever serve checkouts (Stripe's checkout.stripe.com and buy.stripe.com, Kajabi's
# pay.kajabi.com, Teachable's sso.teachable.com and checkout.teachable.com, Paddle, Gumroad, PayPal, and
# any creator's checkout.* or pay.* host), and paths that are checkouts on any host: a /checkout, /purchase
# or /cart path segment (Kajabi's /offers/<id>/checkout, Teachable's /purchase?product_id= and
# /secure/<school>/checkout/<product>) and Kajabi's offer pages, /offers/<id>.
CHECKOUT_HOST = re.compile(r"^(buy|checkout|pay)\.|^sso\.teachable\.com$|(^|\.)paypal\.com$")
CHECKOUT_PATH = re.compile(r"/(checkout|purchase|cart)(/|$)|^/offers/[^/]+/?$", re.IGNORECASE)


def is_checkout_url(url: str, own_paths: Iterable[str] = ()) -> bool:
    """Whether a page is a checkout: by the rules above, or by the start of its path when a creator listed
    their own checkout paths for the site (lower case, as the tracker compares them)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https"):
        return False
    path = parts.path
    return (
        bool(CHECKOUT_HOST.search(parts.hostname or ""))
        or bool(CHECKOUT_PATH.search(path))
        or any(own and path.lower().startswith(own) for own in own_paths)
    )


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


def typed_at_checkout(
    claims: Iterable[EmailClaim],
    reaches: Iterable[CheckoutReach],
    email: str,
    purchased_at: datetime,
    window: timedelta = CHECKOUT_WINDOW,
) -> EmailClaim | None:
    """The browser that typed the sale's own email at checkout just before it: the latest claim of `email`
    inside the window before the purchase, made by a visitor that had reached checkout in the window before
    the claim (the checkout page it typed it on, or the click that led there). That browser made the sale,
    whatever email it gave before (a gift's giver on the student's computer)."""
    reached: dict[int, list[datetime]] = {}
    for reach in reaches:
        reached.setdefault(reach.visitor_id, []).append(reach.reached_at)
    typed = [
        claim
        for claim in claims
        if claim.email == email
        and purchased_at - window <= claim.claimed_at <= purchased_at
        and any(claim.claimed_at - window <= at <= claim.claimed_at for at in reached.get(claim.visitor_id, ()))
    ]
    return max(typed, key=lambda c: (c.claimed_at, c.visitor_id), default=None)
