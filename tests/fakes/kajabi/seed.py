"""Realistic random data for demos and volume tests (`FakeKajabi.seed_random`).

Shapes follow what a course creator's Kajabi account holds: a handful of offers from a $27 mini-course
to a $1,997 mastermind (cheap ones sell more), repeat customers, occasional coupon codes, purchases
spread over the window with more in the evening, ``referrer`` URLs from the usual channels (Kajabi's
samples leave ``source``/``referrer`` null, and so do ~40 % of rows here) and ~6 % refunds, some partial.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from .models import Customer, Offer, Purchase
from .store import Store

CATALOGUE: tuple[tuple[str, int, int], ...] = (  # title, price in cents, relative weight
    ("Mini-Course: Price Your First Offer", 2_700, 30),
    ("Email List Accelerator", 19_700, 20),
    ("Course Launch Blueprint", 49_700, 14),
    ("Creator Coaching Membership", 4_900, 22),
    ("VIP Mastermind", 199_700, 3),
)

#: (source, referrer, weight): attribution as Kajabi would record it.
CHANNELS: tuple[tuple[str | None, str | None, int], ...] = (
    (None, None, 40),
    ("youtube", "https://www.youtube.com/", 14),
    ("instagram", "https://l.instagram.com/", 12),
    ("facebook", "https://l.facebook.com/", 9),
    ("newsletter", "https://mail.google.com/", 10),
    ("google", "https://www.google.com/", 8),
    ("podcast", "https://podcasts.apple.com/", 4),
    ("affiliate", "https://partner-blog.example.com/best-course-tools", 3),
)

FIRST = (
    "Ava",
    "Liam",
    "Maya",
    "Noah",
    "Zoe",
    "Ethan",
    "Priya",
    "Lucas",
    "Sofia",
    "Mateo",
    "Chloe",
    "Omar",
    "Grace",
    "Hiro",
    "Nina",
    "Leo",
    "Amara",
    "Felix",
    "Ines",
    "Kai",
)
LAST = (
    "Johnson",
    "Garcia",
    "Chen",
    "Okafor",
    "Müller",
    "Rossi",
    "Patel",
    "Nguyen",
    "Smith",
    "Kowalski",
    "Silva",
    "Dubois",
    "Haddad",
    "Tanaka",
    "Brown",
    "Larsen",
)
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hey.com", "proton.me")


def _ensure_catalogue(store: Store) -> list[Offer]:
    site = next(iter(store.sites.values()), None) or store.add_site("Mindful Money Academy", utc_offset="-05:00")
    offers = [o for o in store.offers.values() if o.site is site]
    if not offers:
        offers = [
            store.add_offer(
                title, price, "USD", site=site, payment_type="subscription" if "Membership" in title else "single"
            )
            for title, price, _ in CATALOGUE
        ]
    return offers


def _moment(rng: random.Random, now: datetime, days: int) -> datetime:
    """A time within the last ``days`` days, weighted towards the evening (UTC-5 shoppers)."""
    day = rng.randrange(max(days, 1))
    hour = int(rng.triangular(0, 24, 20))
    moment = (now - timedelta(days=day)).replace(
        hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=rng.randrange(1000) * 1000
    )
    moment += timedelta(hours=5)  # evening in -05:00
    if moment >= now:  # today's evening has not happened yet: some time earlier today instead
        moment = now - timedelta(seconds=rng.randrange(60, 20 * 3600))
    return moment


def generate_purchases(store: Store, n: int, *, days: int, rng: random.Random, now: datetime) -> list[Purchase]:
    offers = _ensure_catalogue(store)
    weights = [next((w for t, _, w in CATALOGUE if t == o.title), 10) for o in offers]
    customers: list[Customer] = list(store.customers.values())
    made: list[Purchase] = []
    for _ in range(n):
        offer = rng.choices(offers, weights)[0]
        if customers and rng.random() < 0.18:
            customer = rng.choice(customers)
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first.lower()}.{last.lower().replace('ü', 'u')}{rng.randrange(1, 999)}@{rng.choice(DOMAINS)}"
            customer = store.add_customer(email, f"{first} {last}", site=offer.site, created_at=now)
            customers.append(customer)
        source, referrer, _w = rng.choices(CHANNELS, [c[2] for c in CHANNELS])[0]
        coupon = "LAUNCH20" if rng.random() < 0.1 else None
        amount = offer.price_in_cents * 80 // 100 if coupon else offer.price_in_cents
        purchase = store.add_purchase(
            customer, offer, amount, offer.currency, _moment(rng, now, days), source, referrer, coupon_code=coupon
        )
        made.append(purchase)
        if rng.random() < 0.06 and amount > 0:
            when = min(purchase.created_at + timedelta(days=rng.uniform(0.2, 7)), now)
            store.refund(purchase, amount // 2 if rng.random() < 0.25 else None, when)
    return made
