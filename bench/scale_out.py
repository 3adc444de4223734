"""Scale-out: N app instances (gunicorn, production settings) and N workers on one PostgreSQL and one Redis,
under tracker and platform webhook traffic together; then the same traffic against one instance and one worker.

    .venv/bin/python -m bench.scale_out                             # 2 + 2 against 1 + 1, 3 creators x 200 visitors
    .venv/bin/python -m bench.scale_out --visitors 400 --senders 8   # 400 visitors per creator

Each run gets a database of its own on the shared PostgreSQL and a Redis database number of its own
(tests/production.py). The traffic is generated from a seed, so both runs get the same: per creator, visitors
whose browsers run t.js (what it posts to /t/e: site key, event name, a 28-character random id, the visitor
id, the page, the referrer, an email on identify; as text/plain with the page's Origin), some of whom buy.
Creator 0 sells on Kajabi (the fake's webhook body, posted to the URL-token address it registered), the others
on Stripe (the fake's three signed events per Checkout sale). Some webhooks are sent twice, as platforms retry.
The sender plays the load balancer: requests go round robin to the instances, with the browser's address in
X-Forwarded-For (the instances trust one proxy).

Printed and checked: every event answered 204 is stored once; every sale is one purchase; every delivery is
stored once (a repeat answered 200); the sources and summary reports of each creator equal the single
instance's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import Engine, create_engine, func, select

from adapters.persistence import tables as t
from core.domain.attribution import Model
from core.domain.reports import ReportRange
from coursesignal.container import DEFAULT_QUEUE, create_container
from coursesignal.settings import Settings
from tests.fakes.kajabi import FakeKajabi
from tests.fakes.stripe import FakeStripe
from tests.production import Deployment, deployment, migrated_database

BROWSERS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1",
]
# (query string of the landing page, referrer)
ARRIVALS = [
    ("utm_source=youtube&utm_medium=video", "https://www.youtube.com/"),
    ("utm_source=newsletter&utm_medium=email&utm_campaign=launch", ""),
    ("", "https://www.google.com/"),
    ("", "https://www.instagram.com/"),
    ("utm_source=podcast", ""),
    ("", ""),
]
PRICES = [4_900, 9_900, 19_700, 49_700]
BUYERS = 0.12
REPEATED_WEBHOOKS = 0.2
KAJABI_CREATOR = 0
PERIODIC = f"{DEFAULT_QUEUE}-every-"  # the ids of periodic runs (adapters/jobs/rq_queue.py)


def _t_js_id(rng: random.Random) -> str:
    """What t.js's rnd() makes: 4 x 32 random bits, each as the 7 base-36 digits of 2^32 + bits."""

    def base36(number: int) -> str:
        digits = ""
        while number:
            number, digit = divmod(number, 36)
            digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        return digits

    return "".join(base36(rng.getrandbits(32) + 2**32) for _ in range(4))


@dataclass(frozen=True)
class Visit:
    """One visitor's browser: what it posts to /t/e, in order, and the sale at the end, if any."""

    creator: int
    address: str
    user_agent: str
    origin: str
    hits: tuple[dict[str, str], ...]
    buys: int | None  # amount in cents
    email: str | None
    visitor_key: str


def plan(seed: int, creators: int, visitors: int) -> list[Visit]:
    """Every creator's visitors (interleaved, as they arrive), the same for the same arguments."""
    rng = random.Random(seed)
    visits = []
    for n in range(visitors):
        for creator in range(creators):
            host = f"https://school{creator}.example.com"
            key = _t_js_id(rng)
            query, referrer = rng.choice(ARRIVALS)
            landing = f"{host}/courses/watercolour" + (f"?{query}" if query else "")
            pages = [landing] + [f"{host}/p{rng.randrange(9)}" for _ in range(rng.randrange(3))]
            hits, previous = [], referrer
            for page in pages:
                hits.append({"n": "pageview", "i": _t_js_id(rng), "v": key, "u": page, "r": previous})
                previous = page
            buys = rng.choice(PRICES) if rng.random() < BUYERS else None
            email = f"student{n}.c{creator}@example.com" if buys else None
            if email:
                hits.append({"n": "identify", "i": _t_js_id(rng), "v": key, "u": previous, "r": referrer, "e": email})
            address = f"198.51.{100 + n // 250 % 2}.{n % 250 + 1}" if n % 2 else f"203.0.113.{n % 250 + 1}"
            visits.append(Visit(creator, address, rng.choice(BROWSERS), host, tuple(hits), buys, email, key))
    return visits


@dataclass
class Outcome:
    """What was sent and what the app answered."""

    events_accepted: list[str] = field(default_factory=list)
    events_refused: int = 0
    sales: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # creator -> (platform, sale id)
    deliveries: int = 0  # distinct platform events answered 202
    repeats: int = 0  # repeats answered 200 (accepted, ignored)
    webhook_refused: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class World:
    """The creators, their sites and platform connections on one deployment, and the traffic sender."""

    def __init__(
        self, deployed: Deployment, kajabi: FakeKajabi, stripe: FakeStripe, creators: int, *, sales: bool = True
    ) -> None:
        """`sales=False`: sites only, no platform connected (nor any worker needed to connect it)."""
        self.deployed, self.kajabi, self.stripe = deployed, kajabi, stripe
        settings = Settings.from_environ(deployed.environment, load_dotenv=False)
        self.container = create_container(settings)
        self.container.platforms.registry().load()
        self.engine: Engine = create_engine(deployed.database_url)
        self.accounts: list[int] = []
        self.site_keys: list[str] = []
        self.webhook_paths: list[str] = []
        self.offer = kajabi.add_offer("Watercolour Basics", 9_900)
        for creator in range(creators):
            email = f"creator{creator}@example.com"
            accounts = self.container.services.accounts()
            accounts.ensure_account(email)
            site = accounts.add_site(email, [f"school{creator}.example.com"])
            self.accounts.append(site.account_id)
            self.site_keys.append(site.public_key)
            if sales:
                self.webhook_paths.append(self._connect(creator, site.account_id))
        self._instances = itertools.cycle(deployed.base_urls)
        self._cycle_lock = threading.Lock()

    def _connect(self, creator: int, account_id: int) -> str:
        connections = self.container.services.connections()
        if creator == KAJABI_CREATOR:
            key = self.kajabi.key
            result = connections.connect(
                account_id, "kajabi", {"client_id": key.client_id, "client_secret": key.client_secret}
            )
        else:
            credentials = {"api_key": self.stripe.add_restricted_key(), "webhook_secret": self.stripe.webhook_secret}
            result = connections.connect(account_id, "stripe", credentials)
        connection_id = result.connection.id
        self.wait(lambda: self._status(connection_id) == "connected", 120, f"creator {creator} connected")
        if creator == KAJABI_CREATOR:
            (hook,) = [h for h in self.kajabi.hooks if h.event == "purchase"]
            return "/" + hook.target_url.split("/", 3)[3]
        return f"/webhooks/stripe/{connection_id}"

    def _status(self, connection_id: int) -> str:
        with self.engine.connect() as db:
            row = t.platform_integrations.c
            return str(db.execute(select(row.status).where(row.id == connection_id)).scalar_one())

    def wait(self, condition: Callable[[], bool], seconds: float, what: str) -> float:
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > seconds:
                raise RuntimeError(f"{what}: not within {seconds} s\n{self.deployed.tail()}")
            time.sleep(0.25)
        return time.monotonic() - started

    def instance(self) -> str:
        with self._cycle_lock:
            return next(self._instances)

    # --- sending ------------------------------------------------------------------------------------

    def browse(self, session: requests.Session, visit: Visit, outcome: Outcome) -> None:
        headers = {
            "User-Agent": visit.user_agent,
            "Content-Type": "text/plain;charset=UTF-8",
            "Origin": visit.origin,
            "X-Forwarded-For": visit.address,
        }
        for hit in visit.hits:
            body = {"s": self.site_keys[visit.creator], **hit}
            answer = session.post(f"{self.instance()}/t/e", json=body, headers=headers, timeout=30)
            with outcome.lock:
                if answer.status_code == 204:
                    outcome.events_accepted.append(hit["i"])
                else:
                    outcome.events_refused += 1

    def sell(self, session: requests.Session, visit: Visit, rng: random.Random, outcome: Outcome) -> None:
        assert visit.buys is not None
        assert visit.email is not None
        path = self.webhook_paths[visit.creator]
        if visit.creator == KAJABI_CREATOR:
            customer = self.kajabi.add_customer(visit.email, visit.email.split("@")[0])
            purchase = self.kajabi.add_purchase(customer, self.offer, visit.buys)
            body = self.kajabi.webhook_body("purchase", purchase)
            headers = {"Content-Type": "application/json", "User-Agent": "Kajabi-Webhooks (fake)"}
            deliveries = [(json.dumps(body).encode(), headers)]
            sale = ("kajabi", str(purchase.id))
        else:
            # One second on: the purchase comes after the browser's last event (Stripe counts in seconds).
            sold = self.stripe.sell(
                visit.buys, email=visit.email, client_reference_id=visit.visitor_key, created=self.stripe.now() + 1
            )
            deliveries = [self.stripe.sign(event) for event in sold["events"]]
            sale = ("stripe", str(sold["payment_intent"]["id"]))
        with outcome.lock:
            outcome.sales.setdefault(visit.creator, []).append(sale)
        sent = deliveries + [d for d in deliveries if rng.random() < REPEATED_WEBHOOKS]
        for number, (body_bytes, headers) in enumerate(sent):
            answer = session.post(f"{self.instance()}{path}", data=body_bytes, headers=headers, timeout=30)
            with outcome.lock:
                if answer.status_code == 202 and number < len(deliveries):
                    outcome.deliveries += 1
                elif answer.status_code == 200 and number >= len(deliveries):
                    outcome.repeats += 1
                else:
                    outcome.webhook_refused.append(f"{answer.status_code} {answer.text[:200]}")

    def play(self, visits: list[Visit], senders: int, seed: int) -> Outcome:
        """Browsers in `senders` threads; a buyer's webhooks go out from a thread of their own once the
        browser is done, while other browsers go on."""
        outcome = Outcome()
        todo = iter(visits)
        todo_lock = threading.Lock()
        sales: list[Visit] = []
        sales_ready = threading.Condition()
        browsing_done = threading.Event()

        def browser() -> None:
            with requests.Session() as session:
                while True:
                    with todo_lock:
                        visit = next(todo, None)
                    if visit is None:
                        return
                    self.browse(session, visit, outcome)
                    if visit.buys:
                        with sales_ready:
                            sales.append(visit)
                            sales_ready.notify()

        def platform() -> None:
            rng = random.Random(seed)
            with requests.Session() as session:
                while True:
                    with sales_ready:
                        while not sales and not browsing_done.is_set():
                            sales_ready.wait(0.2)
                        if not sales:
                            return
                        visit = sales.pop(0)
                    self.sell(session, visit, rng, outcome)

        started = time.monotonic()
        threads = [threading.Thread(target=browser, daemon=True) for _ in range(senders)]
        seller = threading.Thread(target=platform, daemon=True)
        for thread in [*threads, seller]:
            thread.start()
        for thread in threads:
            thread.join()
        browsing_done.set()
        seller.join()
        outcome.seconds = time.monotonic() - started
        return outcome

    # --- checking -----------------------------------------------------------------------------------

    def settled(self) -> bool:
        """No tracker event or delivery waiting, and no job queued or running."""
        with self.engine.connect() as db:
            waiting = db.execute(
                select(func.count()).select_from(t.inbound_events).where(t.inbound_events.c.processed_at.is_(None))
            ).scalar_one()
            deliveries = db.execute(
                select(func.count())
                .select_from(t.webhook_deliveries)
                .where(t.webhook_deliveries.c.processed_at.is_(None))
            ).scalar_one()
        queue = Queue(DEFAULT_QUEUE, connection=self.container.gateways.redis())
        # The periodic sweeps come back every few seconds: only the jobs the traffic made count.
        jobs = [
            job for job in queue.get_job_ids() + StartedJobRegistry(queue=queue).get_job_ids() if PERIODIC not in job
        ]
        return waiting == 0 and deliveries == 0 and not jobs

    def check(self, outcome: Outcome) -> dict[str, Any]:
        """What was stored against what was accepted; raises on anything lost or stored twice."""
        with self.engine.connect() as db:
            stored = list(db.execute(select(t.events.c.client_event_id)).scalars())
            purchases = list(db.execute(select(t.purchases.c.platform, t.purchases.c.platform_purchase_id)).all())
            delivery_rows = db.execute(select(func.count()).select_from(t.webhook_deliveries)).scalar_one()
            inbound = t.inbound_events.c
            first, last = db.execute(select(func.min(inbound.received_at), func.max(inbound.processed_at))).one()
            # Processing that failed once and succeeded on a retry: a race would show here first.
            retried = (
                db.execute(
                    select(func.count()).select_from(t.webhook_deliveries).where(t.webhook_deliveries.c.attempts > 1)
                ).scalar_one()
                + db.execute(select(func.count()).where(inbound.attempts > 0)).scalar_one()
            )
        sold = [sale for sales in outcome.sales.values() for sale in sales]
        problems = []
        if lost := set(outcome.events_accepted) - set(stored):
            problems.append(f"{len(lost)} accepted events not stored")
        if len(stored) != len(set(stored)):
            problems.append(f"{len(stored) - len(set(stored))} events stored twice")
        if missing := set(sold) - {(p, str(i)) for p, i in purchases}:
            problems.append(f"{len(missing)} sales not stored: {sorted(missing)[:5]}")
        if len(purchases) != len(set(purchases)) or len(purchases) != len(sold):
            problems.append(f"{len(purchases)} purchases stored for {len(sold)} sales")
        if delivery_rows != outcome.deliveries:
            problems.append(f"{delivery_rows} deliveries stored for {outcome.deliveries} distinct platform events")
        if outcome.webhook_refused or outcome.events_refused:
            problems.append(f"refused: {outcome.events_refused} events, webhooks {outcome.webhook_refused[:3]}")
        if problems:
            raise AssertionError("; ".join(problems))
        return {
            "events": len(stored),
            "purchases": len(purchases),
            "deliveries": delivery_rows,
            "repeats": outcome.repeats,
            "retried": retried,
            "first_received": first,
            "last_processed": last,
        }

    def reports(self) -> list[Any]:
        """Each creator's all-time sources report under both models and summary, as plain tuples."""
        reports = self.container.services.reports()
        figures = []
        for account in self.accounts:
            for model in Model:
                report = reports.sources(account, ReportRange.ALL_TIME, model)
                lines = sorted(
                    (line.label, line.totals.visitors, line.totals.revenue, line.totals.students, line.totals.purchases)
                    for line in report.lines
                )
                figures.append((account, model.value, lines, report.unmatched.revenue, report.unmatched.purchases))
            summary = reports.summary(account, ReportRange.ALL_TIME).summary
            figures.append((account, "summary", summary.revenue, summary.purchases, summary.matched_purchases))
        return figures

    def close(self) -> None:
        self.container.unwire()
        self.container.gateways.engine().dispose()
        self.engine.dispose()


@dataclass
class Run:
    instances: int
    outcome: Outcome
    stored: dict[str, Any]
    settle_seconds: float
    reports: list[Any]
    load: tuple[float, float, float]


@contextmanager
def fakes() -> Iterator[tuple[FakeKajabi, FakeStripe]]:
    with FakeKajabi() as kajabi, FakeStripe() as stripe:
        kajabi.add_site("Academy")
        yield kajabi, stripe


def run(
    instances: int,
    visits: list[Visit],
    creators: int,
    *,
    admin_url: str,
    redis_url: str,
    senders: int,
    seed: int,
    template: str | None = None,
) -> Run:
    """The traffic against `instances` app instances and as many workers, on a fresh database (migrated, or a
    copy of `template`) and Redis number."""
    with (
        tempfile.TemporaryDirectory(prefix="coursesignal-scale-") as folder,
        fakes() as (kajabi, stripe),
        deployment(
            admin_url,
            redis_url,
            Path(folder),
            {"kajabi": kajabi.base_url, "stripe": stripe.base_url},
            template=template,
        ) as deployed,
    ):
        for _ in range(instances):
            deployed.start_worker()
        deployed.start_apps(instances)
        world = World(deployed, kajabi, stripe, creators)
        try:
            outcome = world.play(visits, senders, seed)
            load = os.getloadavg()
            settle = world.wait(world.settled, 1800, "every event and delivery processed")
            time.sleep(1.0)  # a follow-up job queued by the last one
            settle += world.wait(world.settled, 600, "every follow-up job done")
            return Run(instances, outcome, world.check(outcome), settle, world.reports(), load)
        finally:
            world.close()


def describe(result: Run) -> str:
    outcome, stored = result.outcome, result.stored
    accepted = len(outcome.events_accepted)
    span = (stored["last_processed"] - stored["first_received"]).total_seconds()
    return (
        f"{result.instances} app + {result.instances} worker: {accepted} events in {outcome.seconds:.1f} s "
        f"({accepted / outcome.seconds:.0f}/s accepted), {stored['purchases']} purchases from "
        f"{stored['deliveries']} deliveries (+{stored['repeats']} repeats answered 200), {stored['retried']} "
        f"retried; all processed {result.settle_seconds:.1f} s after the last request (first event received "
        f"to last processed: {span:.1f} s, {stored['events'] / span:.0f} events/s); nothing lost, nothing twice; "
        f"load average {result.load[0]:.2f} {result.load[1]:.2f} {result.load[2]:.2f}"
    )


def compare(many: Run, one: Run) -> list[str]:
    """The report figures that differ between the two runs (none when they agree)."""
    return [f"{a} != {b}" for a, b in zip(many.reports, one.reports, strict=True) if a != b]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--creators", type=int, default=3)
    parser.add_argument("--visitors", type=int, default=200, help="per creator")
    parser.add_argument("--senders", type=int, default=6, help="browser threads sending at once")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    visits = plan(args.seed, args.creators, args.visitors)
    print(
        f"{datetime.now(UTC):%H:%M} UTC, {os.cpu_count()} cores; {len(visits)} visitors, "
        f"{sum(len(v.hits) for v in visits)} events, {sum(1 for v in visits if v.buys)} sales",
        flush=True,
    )
    with migrated_database(args.postgres) as template:
        options = {"admin_url": args.postgres, "redis_url": args.redis, "senders": args.senders, "seed": args.seed}
        many = run(args.instances, visits, args.creators, template=template, **options)
        print(describe(many), flush=True)
        one = run(1, visits, args.creators, template=template, **options)
        print(describe(one), flush=True)
    if differences := compare(many, one):
        raise SystemExit("reports differ:\n" + "\n".join(differences))
    print(f"the same reports: {len(many.reports)} figures of {args.creators} creators equal the single instance's")


if __name__ == "__main__":
    main()
