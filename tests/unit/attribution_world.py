"""A small world of fakes for attribution tests: jobs run as soon as they are queued, as in production
they run within seconds."""

from __future__ import annotations

from datetime import datetime

from core.domain.events import EventKind, TrackerEvent
from core.domain.money import Money
from core.domain.purchases import Purchase, PurchaseRecord, RefundRecord
from core.services.accounts import Accounts
from core.services.attribution import Attribution
from core.services.purchases import Purchases
from core.services.tracking import Tracking
from tests.unit.fakes import FakeInbox, FakeRateLimiter, FakeUnitOfWork, FixedClock, Store

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


class RunningJobQueue:
    """Runs each job at once against the attribution service, and remembers what ran."""

    def __init__(self) -> None:
        self.attribution: Attribution | None = None
        self.ran: list[tuple[str, tuple[int | str, ...]]] = []

    def enqueue(self, task: str, *args: int | str) -> None:
        self.ran.append((task, args))
        assert self.attribution is not None
        getattr(self.attribution, task)(*args)


class AttributionWorld:
    def __init__(self) -> None:
        self.store = Store()
        self.clock = FixedClock()
        self.jobs = RunningJobQueue()
        uow = lambda: FakeUnitOfWork(self.store)  # noqa: E731
        self.uow = uow
        self.accounts = Accounts(uow, self.clock)
        self.limiter = FakeRateLimiter()
        self.tracking = Tracking(uow, self.jobs, self.limiter, self.clock, FakeInbox(self.store))
        self.attribution = Attribution(uow)
        self.jobs.attribution = self.attribution
        self.purchases = Purchases(uow, platforms=None)  # type: ignore[arg-type]
        account = self.accounts.ensure_account("creator@example.com")
        assert account.id is not None
        self.account_id = account.id
        self.site = self.accounts.add_site("creator@example.com", ["example.com", "school.example"])
        self._ids = 0

    def send(
        self,
        kind: EventKind,
        visitor: str,
        url: str = "https://example.com/",
        *,
        at: datetime | None = None,
        email: str | None = None,
        fingerprint: str | None = None,
        referrer: str | None = None,
        event_id: str | None = None,
    ) -> None:
        self._ids += 1
        self.tracking.record(
            TrackerEvent(
                site_key=self.site.public_key,
                client_event_id=event_id or f"event{self._ids:06d}",
                kind=kind,
                visitor_key=visitor,
                url=url,
                received_at=at or self.clock.now(),
                referrer=referrer,
                email=email,
                user_agent=BROWSER,
                fingerprint=fingerprint,
            )
        )

    def visit(self, visitor: str, source: str, **kwargs: object) -> None:
        self.send(EventKind.PAGEVIEW, visitor, f"https://example.com/?utm_source={source}", **kwargs)  # type: ignore[arg-type]

    def identify(self, visitor: str, email: str, **kwargs: object) -> None:
        self.send(EventKind.IDENTIFY, visitor, email=email, **kwargs)  # type: ignore[arg-type]

    def buy(
        self, pid: str, *, email: str | None = None, cents: int = 10000, at: datetime | None = None, **extra: object
    ) -> Purchase:
        record = PurchaseRecord(
            platform="csv",
            platform_purchase_id=pid,
            amount=Money(cents, "USD"),
            purchased_at=at or self.clock.now(),
            email=email,
            **extra,  # type: ignore[arg-type]
        )
        self.purchases.ingest(self.account_id, [record])
        return self.purchase(pid)

    def refund(self, pid: str, cents: int, refund_id: str = "r1") -> None:
        self.purchases.ingest(
            self.account_id, [RefundRecord("csv", pid, refund_id, Money(cents, "USD"), self.clock.now())]
        )

    def purchase(self, pid: str) -> Purchase:
        with self.uow() as uow:
            found = uow.purchases.get_by_platform_id(self.account_id, "csv", pid)
        assert found is not None
        return found

    def credited(self, pid: str) -> dict[str, str]:
        purchase = self.purchase(pid)
        return {c.model.value: c.touch.source for c in self.store.credits.get(purchase.id or 0, [])}

    def visitor_id(self, key: str) -> int:
        return next(v.id or 0 for v in self.store.visitors.values() if v.key == key)
