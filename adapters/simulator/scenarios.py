"""The creator the simulator plays: her two sites, the channels people come from (with the source the
classifier must give each), the browsers they use, and the named scenarios with their hard cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.domain.touches import touch_from_landing

START = datetime(2026, 9, 1, tzinfo=UTC)
MAIN_DOMAIN = "creator.example"
SCHOOL_DOMAIN = "creator-school.teachable.com"  # a Teachable school: another site, so a hand-off
SAFARI_STORAGE_LIMIT = timedelta(days=7)
PRICES = (4900, 9900, 19900, 49700)


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    source: str  # what a creator should see credited: the truth the scores compare with
    query: str
    referrer: str | None


CHANNELS = {
    "youtube": Channel(
        "youtube",
        "YouTube",
        "utm_source=youtube&utm_medium=video&utm_campaign=course-trailer",
        "https://www.youtube.com/",
    ),
    "instagram": Channel(
        "instagram", "Instagram", "utm_source=instagram&utm_medium=social&utm_content=bio", "https://l.instagram.com/"
    ),
    "facebook_ads": Channel(
        "facebook_ads",
        "Facebook",
        "utm_source=facebook&utm_medium=paid_social&utm_campaign=launch&fbclid=IwAR{click}",
        "https://m.facebook.com/",
    ),
    "google": Channel("google", "Google", "", "https://www.google.com/"),
    "newsletter": Channel("newsletter", "Email", "utm_source=newsletter&utm_medium=email&utm_campaign=weekly", None),
    "podcast": Channel("podcast", "Podcast", "utm_source=podcast&utm_medium=audio", None),
    "direct": Channel("direct", "Direct", "", None),
}
FIRST_VISIT_MIX = {
    "youtube": 30,
    "instagram": 18,
    "facebook_ads": 14,
    "google": 14,
    "podcast": 6,
    "newsletter": 4,
    "direct": 14,
}
RETURN_VISIT_MIX = {"direct": 40, "newsletter": 25, "youtube": 12, "instagram": 10, "google": 8, "facebook_ads": 5}

USER_AGENTS = {
    "iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "android": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "mac_safari": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "mac_chrome": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "windows_chrome": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "windows_edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "firefox": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
}
PHONES = ("iphone", "iphone", "android")
COMPUTERS = ("mac_safari", "mac_chrome", "windows_chrome", "windows_chrome", "windows_edge", "firefox")
LANGUAGES = ("en-US,en;q=0.9", "en-GB,en;q=0.8", "en-US", "de-DE,de;q=0.9,en;q=0.8", "es-ES,es;q=0.9")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    people: int = 600
    buyer_share: float = 0.25
    journey_days: float = 30.0  # the longest a journey lasts
    mean_gap_days: float = 4.0
    opt_in: float = 0.6  # buyers who give their email on a form before buying
    two_devices: float = 0.25  # phone first, laptop later
    gift: float = 0.03
    cookie_clearing: float = 0.05
    safari: float | None = None  # None: by device (iPhones and Macs on Safari)
    storage_blocked: float = 0.03
    shared_computer: float = 0.02
    different_checkout_email: float = 0.08
    late_login: float = 0.5  # Teachable students who sign in to the school after buying
    kajabi_checkout_script: float = 0.85  # creators who pasted the snippet into Kajabi's checkout too
    platforms: tuple[tuple[str, int], ...] = (("kajabi", 45), ("teachable", 30), ("stripe", 25))
    refund_share: float = 0.05
    start: datetime = START  # the first day a journey can begin on
    arrival_days: float = 50.0  # first visits spread evenly over this many days from `start`


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "default",
            "a realistic mix: every channel, Kajabi, Teachable and Stripe buyers, a few hard cases of each kind",
            people=900,
            buyer_share=0.2,
        ),
        Scenario(
            "channel_mix",
            "every channel, buyers identified on a form: isolates source classification",
            opt_in=1.0,
            two_devices=0,
            gift=0,
            cookie_clearing=0,
            storage_blocked=0,
            shared_computer=0,
            different_checkout_email=0,
            safari=0,
        ),
        Scenario(
            "multi_session", "long journeys: many visits over up to eight weeks", journey_days=56, mean_gap_days=7
        ),
        Scenario("phone_then_laptop", "discovered on a phone, bought on a laptop", two_devices=1.0),
        Scenario("gift", "bought by someone else for the student", gift=1.0),
        Scenario("cookie_clearing", "buyers who clear cookies between visits", cookie_clearing=1.0),
        Scenario("safari_expiry", "Safari only, visits often more than 7 days apart", safari=1.0, mean_gap_days=9),
        Scenario(
            "storage_blocked",
            "the tracker cannot store an id and sends none: the server derives one per address, browser and day",
            storage_blocked=1.0,
        ),
        Scenario("shared_computer", "two people buying from one family computer", shared_computer=1.0),
        Scenario(
            "email_at_checkout",
            "no opt-in: buyers type their email first at checkout (Kajabi runs the snippet there)",
            opt_in=0.0,
            platforms=(("kajabi", 1),),
        ),
        Scenario(
            "teachable",
            "Teachable: the checkout runs no script; half the buyers opted in before",
            opt_in=0.5,
            platforms=(("teachable", 1),),
        ),
        Scenario(
            "stripe", "Stripe payment links carrying the visitor id in client_reference_id", platforms=(("stripe", 1),)
        ),
    )
}


def site_domains() -> tuple[str, str]:
    return (MAIN_DOMAIN, SCHOOL_DOMAIN)


def expected_source(channel: str) -> str:
    """The source the classifier gives a channel's landing: kept equal to the truth by a test."""
    spec = CHANNELS[channel]
    url = f"https://{MAIN_DOMAIN}/?{spec.query.format(click='x')}" if spec.query else f"https://{MAIN_DOMAIN}/"
    touch = touch_from_landing(
        url=url, referrer=spec.referrer, occurred_at=START, own_domains=frozenset(site_domains())
    )
    return touch.source
