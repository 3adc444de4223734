"""The people and their browsers: a scenario and a seed become a timeline of hits, purchases and refunds, with
the truth of every sale (who bought, after which visits) kept beside it.
"""

from __future__ import annotations

import random
import string
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from adapters.simulator.scenarios import (
    CHANNELS,
    COMPUTERS,
    FIRST_VISIT_MIX,
    LANGUAGES,
    MAIN_DOMAIN,
    PHONES,
    PRICES,
    RETURN_VISIT_MIX,
    SAFARI_STORAGE_LIMIT,
    SCHOOL_DOMAIN,
    USER_AGENTS,
    Scenario,
)
from core.domain.attribution import DEFAULT_LOOKBACK
from core.domain.events import EventKind
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord, RefundRecord


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
