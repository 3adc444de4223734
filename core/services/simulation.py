"""The attribution simulator: a creator's traffic with known ground truth, run through the real services.

Each simulated person has devices (a phone, a laptop, a shared family computer), a journey of visits
from channels (YouTube, Instagram, Facebook ads, Google, a newsletter, podcasts, direct) over days or
weeks, and may opt in, buy on Kajabi, Teachable or Stripe, buy a gift, clear cookies, lose storage to
Safari's 7-day expiry or browse with storage blocked. The browsers are emulated the way the tracker
behaves (a browser that can keep no id sends none, and the server derives one exactly as the collect
endpoint does), the hits go through the tracking service (or the HTTP endpoint, with a different `deliver`),
purchases through the purchases service, and the stored results are scored against the truth.

Seeded: the same seed and scenario always produce the same traffic and the same figures.
"""

from __future__ import annotations

import random
import string
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.domain.attribution import DEFAULT_LOOKBACK, Model
from core.domain.events import EventKind, TrackerEvent
from core.domain.identities import handoff_from_url
from core.domain.money import Money
from core.domain.purchases import AttributionStatus, MatchMethod, PurchaseRecord, RefundRecord
from core.domain.touches import touch_from_landing
from core.ports.uow import UnitOfWork
from core.services.accounts import Accounts
from core.services.fingerprints import FingerprintSalts
from core.services.purchases import Purchases
from core.services.tracking import Tracking

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


# --- the people and their browsers -----------------------------------------------------------------


@dataclass(slots=True)
class Device:
    """One browser. Its visitor ids are per domain, as the tracker's storage is."""

    name: str
    user_agent: str
    language: str
    network: str | None  # a fixed /24 at home or in an office; None on a phone (a new address each time)
    safari: bool
    storage_blocked: bool = False
    clears_cookies: bool = False
    visitor_ids: dict[str, str] = field(default_factory=dict)
    last_seen: dict[str, datetime] = field(default_factory=dict)
    owners: list[int] = field(default_factory=list)
    # The id the open page sends, per domain; None when the browser can keep none (`v` is left out).
    page_keys: dict[str, str | None] = field(default_factory=dict)
    label: str = ""  # names the browser, for playing its hits in one real browser context


@dataclass(slots=True)
class Person:
    number: int
    email: str
    devices: list[Device]
    buys: bool
    platform: str
    opts_in: bool
    checkout_email: str
    gift_from: Person | None = None  # the payer, when this person's course is a gift


@dataclass(frozen=True, slots=True)
class Visit:
    at: datetime
    person: Person
    device: Device
    channel: str
    opt_in: bool = False
    checkout: str | None = None  # the platform whose checkout the visit reaches
    buys: bool = False
    paid_by: Person | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """What one browser sends the tracker."""

    at: datetime
    kind: EventKind
    url: str
    visitor_key: str | None  # None: storage blocked, the server derives an id from address and browser
    user_agent: str
    language: str
    address: str
    referrer: str | None = None
    email: str | None = None
    event_id: str = ""
    device: str = ""  # the browser that sent it (Device.label)
    storage_blocked: bool = False  # that browser keeps no cookie and no storage


@dataclass(frozen=True, slots=True)
class Truth:
    purchase_id: str
    amount: int
    refunded: int
    journey_person: int
    payer: int
    first_source: str
    last_source: str
    traits: tuple[str, ...] = ()  # the hard cases this purchase's journey went through
    first_landing: str = ""  # the event id of the landing page view of the journey's true first visit
    checkout_landing: str = ""  # the same for the visit that bought


@dataclass(slots=True)
class Traffic:
    scenario: Scenario
    timeline: list[tuple[datetime, int, Hit | PurchaseRecord | RefundRecord]]
    truths: dict[str, Truth]
    hit_person: dict[str, int]  # event id -> the person who sent it
    # Filled as the traffic plays, once every hit's visitor id is known (the server derives some):
    event_keys: dict[str, str] = field(default_factory=dict)  # event id -> the visitor id it was stored under
    hit_owner: dict[tuple[str, datetime], int] = field(default_factory=dict)  # (visitor id, page view) -> person
    visitor_owners: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    # A simulated visitor id -> the one a real browser made in its place (the browser run only).
    real_keys: dict[str, str] = field(default_factory=dict)


class _Generator:
    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.s = scenario
        self.rng = random.Random(f"{scenario.name}:{seed}")  # noqa: S311 - made-up traffic, not secrets  # nosec B311
        self.offices = [self._network() for _ in range(6)]
        self.timeline: list[tuple[datetime, int, Hit | PurchaseRecord | RefundRecord]] = []
        self.truths: dict[str, Truth] = {}
        self.hit_person: dict[str, int] = {}
        self.landings: dict[int, str] = {}  # id() of a played visit -> the event id of its landing page view
        self.sequence = 0
        self.devices_made = 0

    # -- small random helpers
    def _token(self, length: int = 22) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(length))

    def _network(self) -> str:
        return f"{self.rng.randint(11, 223)}.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}"

    def _pick(self, weights: dict[str, int] | tuple[tuple[str, int], ...]) -> str:
        items = list(weights.items()) if isinstance(weights, dict) else list(weights)
        return self.rng.choices([k for k, _ in items], weights=[w for _, w in items])[0]

    def _chance(self, p: float) -> bool:
        return self.rng.random() < p

    def _device(self, kind: str, *, office: bool = False) -> Device:
        name = self.rng.choice(PHONES if kind == "phone" else COMPUTERS)
        safari = name in ("iphone", "mac_safari") if self.s.safari is None else self._chance(self.s.safari)
        network: str | None = None if kind == "phone" else self._network()
        if office:
            network, name = self.rng.choice(self.offices), "windows_chrome"
        self.devices_made += 1
        return Device(
            label=f"device{self.devices_made}",
            name=name,
            user_agent=USER_AGENTS[name],
            language=LANGUAGES[0] if office else self.rng.choice(LANGUAGES),
            network=network,
            safari=safari,
            storage_blocked=self._chance(self.s.storage_blocked),
            clears_cookies=self._chance(self.s.cookie_clearing),
        )

    # -- people
    def people(self) -> list[Person]:
        people: list[Person] = []
        shared: Device | None = None
        for number in range(self.s.people):
            buys = self._chance(self.s.buyer_share)
            email = f"student{number}@{self.rng.choice(('gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com'))}"
            office = self._chance(0.08)
            if buys and self._chance(self.s.two_devices):
                devices = [self._device("phone"), self._device("computer", office=office)]
            else:
                devices = [self._device(self.rng.choice(("phone", "computer")), office=office)]
            if buys and self._chance(self.s.shared_computer):
                # Family computers come in pairs: the second sharer reuses the first's browser.
                if shared is None:
                    shared = devices[-1] = self._device("computer")
                else:
                    devices[-1], shared = shared, None
            checkout_email = email
            if self._chance(self.s.different_checkout_email):
                checkout_email = f"work.student{number}@company{number % 50}.example"
            person = Person(
                number=number,
                email=email,
                devices=devices,
                buys=buys,
                platform=self._pick(self.s.platforms),
                opts_in=self._chance(self.s.opt_in if buys else 0.2),
                checkout_email=checkout_email,
            )
            if buys and self._chance(self.s.gift):
                payer_number = self.s.people + number
                person.gift_from = Person(
                    number=payer_number,
                    email=f"parent{number}@gmail.com",
                    devices=[self._device("computer")],
                    buys=True,
                    platform=person.platform,
                    opts_in=False,
                    checkout_email=f"parent{number}@gmail.com",
                )
            for device in devices:
                device.owners.append(number)
            people.append(person)
        return people

    def visits(self, person: Person) -> list[Visit]:
        sessions = 1 + min(int(self.rng.expovariate(1 / (2.5 if person.buys else 0.6))), 12)
        at = self.s.start + timedelta(days=self.rng.uniform(0, self.s.arrival_days), hours=self.rng.uniform(7, 22))
        end = at + timedelta(days=self.s.journey_days)
        visits = []
        for index in range(sessions):
            last = index == sessions - 1
            device = person.devices[-1] if last or index >= sessions / 2 else person.devices[0]
            if index == 0:
                channel = self._pick(FIRST_VISIT_MIX)
            else:
                mix = dict(RETURN_VISIT_MIX)
                if not person.opts_in:
                    mix.pop("newsletter")
                channel = self._pick(mix)
            opt_in = person.opts_in and index == max(0, sessions - 2) and not (last and sessions > 1)
            if person.opts_in and sessions == 1:
                opt_in = True
            checkout = None
            buys = False
            if last and person.buys:
                checkout, buys = person.platform, person.gift_from is None
            elif last and self._chance(0.06):
                checkout = person.platform
            visits.append(Visit(at, person, device, channel, opt_in=opt_in, checkout=checkout, buys=buys))
            following = at + timedelta(
                days=self.rng.expovariate(1 / self.s.mean_gap_days), hours=self.rng.uniform(0, 6)
            )
            # Past the journey's end, the remaining visits come hours apart: a buyer deciding.
            at = following if following <= end else at + timedelta(hours=self.rng.uniform(1, 6))
        if person.gift_from is not None:
            payer = person.gift_from
            visits.append(
                Visit(
                    at + timedelta(hours=self.rng.uniform(2, 48)),
                    payer,
                    payer.devices[0],
                    "direct",
                    checkout=person.platform,
                    buys=True,
                    paid_by=payer,
                )
            )
        return visits

    # -- the browser, as the tracker behaves in it
    def _visitor_key(self, device: Device, domain: str, at: datetime, new_visit: bool) -> str | None:
        if device.storage_blocked:
            return None  # the tracker keeps nothing and leaves `v` out: the server derives an id
        current = device.visitor_ids.get(domain)
        seen = device.last_seen.get(domain)
        expired = device.safari and seen is not None and at - seen > SAFARI_STORAGE_LIMIT
        cleared = device.clears_cookies and new_visit and self._chance(0.7)
        if current is None or expired or cleared:
            current = device.visitor_ids[domain] = self._token()
        device.last_seen[domain] = at
        return current

    def _address(self, device: Device) -> str:
        network = device.network or self._network()  # phones get a new carrier address every visit
        return f"{network}.{self.rng.randint(2, 254)}"

    def _emit(self, at: datetime, item: Hit | PurchaseRecord | RefundRecord) -> None:
        self.sequence += 1
        self.timeline.append((at, self.sequence, item))

    def _hit(
        self,
        visit: Visit,
        at: datetime,
        kind: EventKind,
        url: str,
        *,
        referrer: str | None = None,
        email: str | None = None,
        new_visit: bool = False,
        address: str,
    ) -> Hit:
        domain = _page_domain_of_click(url) if kind is EventKind.CLICK else url.split("/")[2]
        if kind is EventKind.PAGEVIEW or domain not in visit.device.page_keys:
            key = visit.device.page_keys[domain] = self._visitor_key(visit.device, domain, at, new_visit)
        else:
            key = visit.device.page_keys[domain]  # clicks and forms belong to the page they happen on
        hit = Hit(
            at=at,
            kind=kind,
            url=url,
            visitor_key=key,
            user_agent=visit.device.user_agent,
            language=visit.device.language,
            address=address,
            referrer=referrer,
            email=email,
            event_id=f"ev{self.sequence + 1:09d}{self._token(6)}",
            device=visit.device.label,
            storage_blocked=visit.device.storage_blocked,
        )
        self.hit_person[hit.event_id] = visit.person.number
        self._emit(at, hit)
        return hit

    def play(
        self, visit: Visit, price: int, journey: tuple[Person, list[Visit]] | None, recipient: str | None = None
    ) -> None:
        """Expand one visit into the tracker's hits and, for a buyer, the platform's purchase."""
        channel = CHANNELS[visit.channel]
        address = self._address(visit.device)
        at = visit.at
        query = channel.query.format(click=self._token(12))
        landing_path = self.rng.choice(("/", "/blog/how-to-start", "/free-guide", "/course"))
        landing = f"https://{MAIN_DOMAIN}{landing_path}" + (f"?{query}" if query else "")
        landed = self._hit(
            visit, at, EventKind.PAGEVIEW, landing, referrer=channel.referrer, new_visit=True, address=address
        )
        self.landings[id(visit)] = landed.event_id
        previous = landing
        for _ in range(self.rng.randint(0, 2)):
            at += timedelta(seconds=self.rng.randint(20, 240))
            page = f"https://{MAIN_DOMAIN}{self.rng.choice(('/about', '/course', '/blog/tips', '/testimonials'))}"
            self._hit(visit, at, EventKind.PAGEVIEW, page, referrer=previous, address=address)
            previous = page
        email_for_forms = visit.person.email
        if visit.opt_in:
            at += timedelta(seconds=self.rng.randint(20, 120))
            self._hit(
                visit, at, EventKind.PAGEVIEW, f"https://{MAIN_DOMAIN}/free-guide", referrer=previous, address=address
            )
            at += timedelta(seconds=self.rng.randint(10, 90))
            self._hit(
                visit,
                at,
                EventKind.IDENTIFY,
                f"https://{MAIN_DOMAIN}/free-guide",
                email=email_for_forms,
                address=address,
            )
        if visit.checkout is None:
            return
        at += timedelta(seconds=self.rng.randint(30, 300))
        buyer = visit.paid_by or visit.person
        checkout_email = buyer.checkout_email
        carried: str | None = None
        if visit.checkout == "kajabi":
            sales = f"https://{MAIN_DOMAIN}/launch-course"  # the sales page; Kajabi's offer checkout follows
            self._hit(visit, at, EventKind.PAGEVIEW, sales, referrer=previous, address=address)
            checkout_url = f"https://{MAIN_DOMAIN}/offers/launch-course/checkout"
            at += timedelta(seconds=self.rng.randint(5, 60))
            self._hit(visit, at, EventKind.CLICK, checkout_url, referrer=sales, address=address)
            if self._chance(self.s.kajabi_checkout_script):
                at += timedelta(seconds=2)
                self._hit(visit, at, EventKind.PAGEVIEW, checkout_url, referrer=sales, address=address)
                if visit.buys:
                    at += timedelta(seconds=self.rng.randint(15, 90))
                    self._hit(visit, at, EventKind.IDENTIFY, checkout_url, email=checkout_email, address=address)
        elif visit.checkout == "teachable":
            handed = visit.device.page_keys[MAIN_DOMAIN]
            at += timedelta(seconds=1)
            if handed:
                # The tracker decorates the link to the school with `_csv=<id>.<time>` (only when it has an
                # id to hand); the script on the school adopts that id and strips the parameter before it
                # sends anything, so the school's page view carries the same id and a clean URL.
                visit.device.visitor_ids[SCHOOL_DOMAIN] = handed
                visit.device.last_seen[SCHOOL_DOMAIN] = at
            school = f"https://{SCHOOL_DOMAIN}/p/launch-course"
            self._hit(visit, at, EventKind.PAGEVIEW, school, referrer=previous, address=address)
            at += timedelta(seconds=self.rng.randint(10, 120))
            checkout = "https://sso.teachable.com/secure/4242/checkout/777"
            self._hit(visit, at, EventKind.CLICK, checkout, referrer=school, address=address)
        else:
            carried = visit.device.page_keys[MAIN_DOMAIN]
            reference = f"?client_reference_id={carried}" if carried else ""  # nothing to carry without an id
            link = f"https://buy.stripe.com/launch-course{reference}"
            self._hit(visit, at, EventKind.CLICK, link, referrer=previous, address=address)
        if not visit.buys:
            return
        at += timedelta(seconds=self.rng.randint(60, 420))
        student = visit.person if visit.paid_by is None else None
        pid = f"{visit.checkout}-{self.sequence + 1:07d}"
        record = PurchaseRecord(
            platform=visit.checkout,
            platform_purchase_id=pid,
            amount=Money(price, "USD"),
            purchased_at=at,
            email=checkout_email,
            course_name="Launch Course",
            visitor_key=carried,
            # Of the three, only Teachable names a gift's student (Sale.created); Kajabi documents only the
            # customer, and a Stripe gift names a student only where the creator asks for one.
            recipient_email=recipient if visit.checkout == "teachable" else None,
        )
        self._emit(at, record)
        refunded = 0
        if self._chance(self.s.refund_share):
            refunded = price
            later = at + timedelta(days=self.rng.uniform(1, 14))
            self._emit(later, RefundRecord(visit.checkout, pid, f"r-{pid}", Money(price, "USD"), later))
        assert journey is not None
        journey_person, journey_visits = journey  # a gift's journey is the student's
        first_visit, first, last = _truth_of(journey_visits, at)
        self.truths[pid] = Truth(
            pid,
            price,
            refunded,
            journey_person.number,
            buyer.number,
            first,
            last,
            _traits(visit, buyer, self.s),
            first_landing=self.landings[id(first_visit)],
            checkout_landing=landed.event_id,
        )
        if visit.checkout == "teachable" and student is not None and self._chance(self.s.late_login):
            # The new student signs in to the school: the tracker there sees their email, after the sale.
            at += timedelta(minutes=self.rng.uniform(2, 40))
            sign_in = f"https://{SCHOOL_DOMAIN}/sign_in"
            self._hit(visit, at, EventKind.PAGEVIEW, sign_in, address=address)
            self._hit(
                visit, at + timedelta(seconds=20), EventKind.IDENTIFY, sign_in, email=checkout_email, address=address
            )


def _traits(visit: Visit, buyer: Person, scenario: Scenario) -> tuple[str, ...]:
    student = visit.person if visit.paid_by is None else None
    devices = buyer.devices if student is None else student.devices
    traits = [f"platform:{visit.checkout}"]
    traits += ["two_devices"] if len(devices) > 1 else []
    traits += ["gift"] if visit.paid_by is not None else []
    traits += ["safari"] if any(d.safari for d in devices) else []
    traits += ["clears_cookies"] if any(d.clears_cookies for d in devices) else []
    traits += ["storage_blocked"] if any(d.storage_blocked for d in devices) else []
    traits += ["shared_computer"] if any(len(d.owners) > 1 for d in devices) else []
    traits += ["opted_in"] if (student or buyer).opts_in else []
    traits += ["other_checkout_email"] if buyer.checkout_email != buyer.email else []
    return tuple(traits)


def _page_domain_of_click(url: str) -> str:
    # A click is sent by the page it happens on; checkout links leave from the creator's main site, except
    # Teachable's, which leave from the school.
    return SCHOOL_DOMAIN if "teachable.com" in url else MAIN_DOMAIN


def _truth_of(visits: list[Visit], purchased_at: datetime) -> tuple[Visit, str, str]:
    """The true first visit, first source and last non-direct source of a journey: its visits before the
    purchase and inside the lookback window (the simulated creator keeps the default), as the credit
    models define them.

    A gift's journey is the student's visits and the payer's visit to buy it.
    """
    since = purchased_at - DEFAULT_LOOKBACK
    journey = sorted((v for v in visits if since <= v.at <= purchased_at), key=lambda v: v.at)
    sources = [CHANNELS[v.channel].source for v in journey]
    non_direct = [s for s in sources if s != "Direct"]
    return journey[0], sources[0], (non_direct or sources)[-1]


def generate(scenario: Scenario, seed: int) -> Traffic:
    generator = _Generator(scenario, seed)
    people = generator.people()
    all_visits: list[tuple[Person, list[Visit]]] = [(p, generator.visits(p)) for p in people]
    flat = sorted(
        ((visit, person, visits) for person, visits in all_visits for visit in visits),
        key=lambda item: (item[0].at, item[1].number),
    )
    for visit, person, visits in flat:
        price = generator.rng.choice(PRICES)
        # A gift's platform record names the student (the person whose visits led to it) as recipient.
        recipient = person.email if visit.paid_by is not None else None
        generator.play(visit, price, (person, visits) if visit.buys else None, recipient)
    timeline = sorted(generator.timeline, key=lambda item: (item[0], item[1]))
    return Traffic(scenario, timeline, generator.truths, generator.hit_person)


# --- running the traffic through the services --------------------------------------------------------


class SimulatedClock:
    """The simulation's time: moved forward as the traffic plays."""

    def __init__(self, now: datetime = START) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


# Sends one hit and says which visitor id it was stored under (the server derives one when `v` is absent).
Deliver = Callable[[Hit], str]
Ingest = Callable[[Iterable[PurchaseRecord | RefundRecord]], object]


@dataclass(frozen=True, slots=True)
class SourceRevenue:
    source: str
    true_revenue: int
    credited_revenue: int

    @property
    def error(self) -> int:
        return self.credited_revenue - self.true_revenue


@dataclass(frozen=True, slots=True)
class Score:
    scenario: str
    purchases: int
    matched: int
    by_method: dict[str, int]
    first_touch_right: int
    last_touch_right: int
    false_matches: int
    revenue: tuple[SourceRevenue, ...]
    unmatched_revenue: int
    hits: int
    misses: dict[str, int] = field(default_factory=dict)  # unmatched / first touch wrong, by trait
    # Matched purchases whose true first visit a recorded signal ties to the buyer, and how many of those
    # are credited the true first-touch source: the share the rules can be asked to get right.
    knowable: int = 0
    knowable_first_right: int = 0

    @property
    def match_rate(self) -> float:
        return self.matched / self.purchases if self.purchases else 0.0

    @property
    def first_touch_accuracy(self) -> float:
        return self.first_touch_right / self.matched if self.matched else 0.0

    @property
    def knowable_first_touch_accuracy(self) -> float:
        return self.knowable_first_right / self.knowable if self.knowable else 0.0

    @property
    def last_touch_accuracy(self) -> float:
        return self.last_touch_right / self.matched if self.matched else 0.0

    @property
    def false_match_rate(self) -> float:
        return self.false_matches / self.matched if self.matched else 0.0


def run(traffic: Traffic, *, deliver: Deliver, ingest: Ingest, clock: SimulatedClock) -> int:
    """Play the timeline in order: hits to the tracker, purchases and refunds to the platform import."""
    hits = 0
    for at, _, item in traffic.timeline:
        clock.set(at)
        if isinstance(item, Hit):
            key = traffic.event_keys[item.event_id] = deliver(item)
            person = traffic.hit_person[item.event_id]
            traffic.visitor_owners[key].add(person)
            if item.kind is EventKind.PAGEVIEW:
                traffic.hit_owner[(key, at)] = person
            hits += 1
        else:
            ingest([item])
    return hits


def score(traffic: Traffic, uow: Callable[[], UnitOfWork], account_id: int, hits: int) -> Score:
    """Compare what the services stored with the truth."""
    by_method: Counter[str] = Counter()
    misses: Counter[str] = Counter()
    matched = first_right = last_right = false = unmatched_revenue = 0
    true_revenue: Counter[str] = Counter()
    credited_revenue: Counter[str] = Counter()
    knowable = knowable_tied(traffic)
    knowable_matched = knowable_right = 0
    with uow() as work:
        for truth in traffic.truths.values():
            net = truth.amount - truth.refunded
            true_revenue[truth.first_source] += net
            purchase = work.purchases.get_by_platform_id(account_id, truth.purchase_id.split("-")[0], truth.purchase_id)
            assert purchase is not None
            assert purchase.id is not None
            if purchase.status is not AttributionStatus.MATCHED:
                unmatched_revenue += net
                misses.update(f"unmatched:{t}" for t in truth.traits)
                continue
            matched += 1
            assert purchase.match_method is not None
            by_method[purchase.match_method.value] += 1
            credits = {c.model: c.touch for c in work.purchases.credits(purchase.id)}
            first, last = credits[Model.FIRST_TOUCH], credits[Model.LAST_TOUCH]
            first_right += first.source == truth.first_source
            if truth.purchase_id in knowable:
                knowable_matched += 1
                knowable_right += first.source == truth.first_source
            if first.source != truth.first_source:
                misses.update(f"first_touch_wrong:{t}" for t in truth.traits)
            last_right += last.source == truth.last_source
            credited_revenue[first.source] += net
            history = work.purchases.history(purchase.id)
            keys = work.visitors.keys({h.visitor_id for h in history} | {purchase.visitor_id or 0})
            people = {truth.journey_person, truth.payer}
            anchor_owners = traffic.visitor_owners.get(keys.get(purchase.visitor_id or 0, ""), set())
            # False: the buyer's browser is someone else's, or either credited visit was someone else's.
            credited_owners = {
                traffic.hit_owner.get((keys.get(h.visitor_id, ""), h.touch.occurred_at))
                for h in history
                if h.touch in (first, last)
            }
            false += not (anchor_owners & people) or bool(credited_owners - people - {None})
    sources = sorted(set(true_revenue) | set(credited_revenue))
    revenue = tuple(SourceRevenue(s, true_revenue[s], credited_revenue[s]) for s in sources)
    return Score(
        scenario=traffic.scenario.name,
        purchases=len(traffic.truths),
        matched=matched,
        by_method={m.value: by_method[m.value] for m in MatchMethod if by_method[m.value]},
        first_touch_right=first_right,
        last_touch_right=last_right,
        false_matches=false,
        revenue=revenue,
        unmatched_revenue=unmatched_revenue,
        hits=hits,
        misses=dict(sorted(misses.items())),
        knowable=knowable_matched,
        knowable_first_right=knowable_right,
    )


def knowable_tied(traffic: Traffic) -> set[str]:
    """The purchases whose true first visit a recorded signal ties to the buyer.

    Signals, as the tracker and the platforms record them: browsers that gave the same email are one person,
    and so are two ids handed across the creator's domains. A first visit is within reach when its browser is
    joined that way to the sale: to a browser that gave one of the sale's emails (the buyer's or the
    recipient's), carried its id into the sale, or made the visit that bought. What is left is out of any
    rule's reach: a phone that never gave an email, an id Safari or the buyer deleted, a gift payer's
    browser. A family computer that gave two emails joins both people here, so this errs towards "within reach".
    """
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        root = node
        while parent.get(root, root) != root:
            root = parent[root]
        while node != root:
            parent[node], node = root, parent[node]
        return root

    def join(one: str, other: str) -> None:
        parent[find(one)] = find(other)

    records: dict[str, PurchaseRecord] = {}
    for _, _, item in traffic.timeline:
        if isinstance(item, PurchaseRecord):
            records[item.platform_purchase_id] = item
            continue
        if not isinstance(item, Hit):
            continue
        key = traffic.event_keys[item.event_id]
        if item.email:
            join(key, f"email:{item.email.lower()}")
        if handed := handoff_from_url(item.url, item.at):
            join(key, handed)
    tied = set()
    for purchase_id, truth in traffic.truths.items():
        record = records[purchase_id]
        anchors = {traffic.event_keys[truth.checkout_landing]}
        anchors |= {f"email:{e.lower()}" for e in (record.email, record.recipient_email) if e}
        anchors |= {traffic.real_keys.get(record.visitor_key, record.visitor_key)} if record.visitor_key else set()
        if find(traffic.event_keys[truth.first_landing]) in {find(a) for a in anchors}:
            tied.add(purchase_id)
    return tied


def combine(scores: list[Score]) -> Score:
    """Every scenario's purchases counted together."""
    by_method: Counter[str] = Counter()
    true_revenue: Counter[str] = Counter()
    credited: Counter[str] = Counter()
    for s in scores:
        by_method.update(s.by_method)
        for line in s.revenue:
            true_revenue[line.source] += line.true_revenue
            credited[line.source] += line.credited_revenue
    return Score(
        scenario="overall",
        purchases=sum(s.purchases for s in scores),
        matched=sum(s.matched for s in scores),
        by_method=dict(sorted(by_method.items())),
        first_touch_right=sum(s.first_touch_right for s in scores),
        last_touch_right=sum(s.last_touch_right for s in scores),
        false_matches=sum(s.false_matches for s in scores),
        revenue=tuple(
            SourceRevenue(k, true_revenue[k], credited[k]) for k in sorted(set(true_revenue) | set(credited))
        ),
        unmatched_revenue=sum(s.unmatched_revenue for s in scores),
        hits=sum(s.hits for s in scores),
        knowable=sum(s.knowable for s in scores),
        knowable_first_right=sum(s.knowable_first_right for s in scores),
    )


def _money(minor: int) -> str:
    return f"{Money(minor, 'USD').format_major():>11}"


def report(result: Score, description: str = "") -> str:
    """The figures a person reads, one block per scenario."""
    lines = [f"== {result.scenario}" + (f": {description}" if description else "")]
    lines.append(
        f"   purchases {result.purchases}, tracker hits {result.hits}; matched {result.matched} "
        f"({result.match_rate:.1%})"
    )
    methods = ", ".join(f"{m} {n}" for m, n in result.by_method.items()) or "none"
    lines.append(f"   matched by: {methods}")
    lines.append(
        f"   of matched: first touch right {result.first_touch_accuracy:.1%}, last touch right "
        f"{result.last_touch_accuracy:.1%}, false matches {result.false_matches} ({result.false_match_rate:.1%})"
    )
    lines.append(
        f"   first visit within reach (a recorded signal ties it to the buyer): {result.knowable} of "
        f"{result.matched}; first touch right among them {result.knowable_first_touch_accuracy:.1%}"
    )
    lines.append("   first-touch revenue by source (USD):      true     credited        error")
    for line in result.revenue:
        lines.append(
            f"     {line.source:<24}{_money(line.true_revenue)}  {_money(line.credited_revenue)}  {_money(line.error)}"
        )
    lines.append(f"     {'(unmatched)':<24}{'':>11}  {_money(result.unmatched_revenue)}")
    return "\n".join(lines)


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


def visitor_key_of(hit: Hit, salts: FingerprintSalts, site_key: str) -> str:
    """The visitor id a hit is stored under: the tracker's own, or, when it sent none, the one the collect
    endpoint derives from the sender's address and browser with the day's salt (the same function)."""
    if hit.visitor_key is not None:
        return hit.visitor_key
    derived = salts.derived_visitor_key(address=hit.address, user_agent=hit.user_agent, site_key=site_key)
    assert derived is not None, "simulated hits always have an address and a User-Agent"
    return derived


def tracker_delivery(tracking: Tracking, salts: FingerprintSalts, site_key: str) -> Deliver:
    """Hand hits straight to the tracking service, identified and fingerprinted the way the web edge does it."""

    def deliver(hit: Hit) -> str:
        key = visitor_key_of(hit, salts, site_key)
        tracking.record(
            TrackerEvent(
                site_key=site_key,
                client_event_id=hit.event_id,
                kind=hit.kind,
                visitor_key=key,
                url=hit.url,
                received_at=hit.at,
                referrer=hit.referrer,
                email=hit.email,
                user_agent=hit.user_agent,
                fingerprint=salts.fingerprint(address=hit.address, user_agent=hit.user_agent, language=hit.language),
            )
        )
        return key

    return deliver


def collect_body(hit: Hit, site_key: str) -> dict[str, str]:
    """The JSON body the tracker script posts to /t/e for a hit."""
    body = {"s": site_key, "n": hit.kind.value, "i": hit.event_id, "u": hit.url}
    if hit.visitor_key is not None:
        body["v"] = hit.visitor_key
    if hit.referrer:
        body["r"] = hit.referrer
    if hit.email:
        body["e"] = hit.email
    return body


@dataclass(frozen=True, slots=True)
class SimulationServices:
    """The real services a simulation runs through, built on a fresh store by the caller."""

    accounts: Accounts
    purchases: Purchases
    tracking: Tracking
    salts: FingerprintSalts
    uow: Callable[[], UnitOfWork]


def journeys(traffic: Traffic, count: int) -> Traffic:
    """The first `count` sales' journeys alone (by time of sale): the hits of their buyers and students,
    their purchases and refunds, nothing of anyone else."""
    chosen = sorted(traffic.truths.values(), key=lambda t: t.purchase_id)
    chosen = sorted(chosen, key=lambda t: _sale_time(traffic, t.purchase_id))[:count]
    people = {n for truth in chosen for n in (truth.journey_person, truth.payer)}
    sales = {truth.purchase_id for truth in chosen}
    timeline = [
        item
        for item in traffic.timeline
        if (isinstance(item[2], Hit) and traffic.hit_person[item[2].event_id] in people)
        or (not isinstance(item[2], Hit) and item[2].platform_purchase_id in sales)
    ]
    truths = {pid: truth for pid, truth in traffic.truths.items() if pid in sales}
    return Traffic(traffic.scenario, timeline, truths, traffic.hit_person)


def _sale_time(traffic: Traffic, purchase_id: str) -> datetime:
    return next(
        at
        for at, _, item in traffic.timeline
        if isinstance(item, PurchaseRecord) and item.platform_purchase_id == purchase_id
    )


def simulate(
    scenario: Scenario,
    seed: int,
    services: SimulationServices,
    clock: SimulatedClock,
    deliver: Callable[[str], Deliver] | None = None,
) -> Score:
    """Generate a scenario's traffic, play it through the services and score the stored results.

    `deliver` makes the hit sender for a site key; by default hits go to the tracking service directly.
    """
    return play(generate(scenario, seed), services, clock, deliver)


def play(
    traffic: Traffic,
    services: SimulationServices,
    clock: SimulatedClock,
    deliver: Callable[[str], Deliver] | None = None,
    ingest: Callable[[Callable[[Iterable[PurchaseRecord | RefundRecord]], object]], Ingest] | None = None,
) -> Score:
    """Play traffic through the services on a new account and site, and score what they stored.

    `ingest`, when given, wraps the purchase import (the browser run translates visitor ids carried into a
    sale from the simulated ones to those the real script made).
    """
    scenario = traffic.scenario
    account = services.accounts.ensure_account(f"creator-{scenario.name.replace('_', '-')}@coursesignal.test")
    assert account.id is not None
    site = services.accounts.add_site(account.email, site_domains())
    sender = (
        deliver(site.public_key) if deliver else tracker_delivery(services.tracking, services.salts, site.public_key)
    )
    account_id = account.id

    def import_records(records: Iterable[PurchaseRecord | RefundRecord]) -> object:
        return services.purchases.ingest(account_id, records)

    hits = run(traffic, deliver=sender, ingest=ingest(import_records) if ingest else import_records, clock=clock)
    return score(traffic, services.uow, account_id, hits)
