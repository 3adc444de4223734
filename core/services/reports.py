"""The reports: the read side, answered from stored attribution results and the visitor counts."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.domain.attribution import Model
from core.domain.channels import Channel
from core.domain.reports import (
    DEFAULT_SORT,
    Breakdown,
    Grouping,
    Period,
    PurchaseRow,
    PurchaseSearch,
    ReferrerHost,
    SessionRow,
    SortOrder,
    SourceLine,
    Summary,
    UnmatchedTotals,
    source_lines,
    summarize,
)
from core.domain.sources import Classification, classify, registrable_domain
from core.ports.clock import Clock
from core.ports.reports import ReportQueries

DEFAULT_CURRENCY = "USD"
MAX_PURCHASES = 200
BOT_VISIT_DAYS = 30  # the window of the bot visits a creator is shown
DRILL_DOWN_PURCHASES = 50
PURCHASES_PER_PAGE = 25  # the newest credited purchases; the CSV export of the drill-down has the same


class UnknownSource(LookupError):
    """No visitor or purchase of this account ever came from the source."""


@dataclass(frozen=True, slots=True)
class SourceReport:
    range: Period
    model: Model
    currency: str
    group: Grouping
    sort: SortOrder
    lines: list[SourceLine]
    unmatched: UnmatchedTotals


@dataclass(frozen=True, slots=True)
class SummaryReport:
    range: Period
    currency: str
    since: datetime | None
    until: datetime
    summary: Summary


@dataclass(frozen=True, slots=True)
class SourceDetail:
    source: str
    range: Period
    model: Model
    currency: str
    sort: SortOrder
    tables: dict[Breakdown, list[SourceLine]]
    purchases: list[PurchaseRow]


@dataclass(frozen=True, slots=True)
class PurchasePage:
    search: PurchaseSearch
    rows: list[PurchaseRow]
    total: int  # purchases matching the search, on every page
    page: int
    pages: int


@dataclass(frozen=True, slots=True)
class PurchaseDetail:
    purchase: PurchaseRow
    sessions: list[SessionRow]


@dataclass(frozen=True, slots=True)
class FellThrough:
    """A host visits were filed under Referral from, and what the classifier makes of it today."""

    referrer: ReferrerHost
    domain: str  # its registrable domain, which is what a source list would name
    today: Classification

    @property
    def still_unknown(self) -> bool:
        return self.today.channel is Channel.REFERRAL


class Reports:
    def __init__(self, queries: ReportQueries, clock: Clock) -> None:
        self._queries = queries
        self._clock = clock

    def _currency(self, account_id: int, currency: str | None) -> str:
        """The asked currency, else the account's main one: amounts in different currencies are never summed."""
        if currency is not None:
            return currency
        return next(iter(self._queries.currencies(account_id)), DEFAULT_CURRENCY)

    def sources(
        self,
        account_id: int,
        report_range: Period,
        model: Model,
        currency: str | None = None,
        *,
        group: Grouping = Grouping.SOURCE,
        sort: SortOrder = DEFAULT_SORT,
    ) -> SourceReport:
        """Revenue by source (or channel, or campaign) for one currency, with the unmatched remainder."""
        now = self._clock.now()
        since, until = report_range.since(now), report_range.until(now)
        with self._queries.reading():
            currency = self._currency(account_id, currency)
            totals = self._queries.source_totals(
                account_id, model=model, currency=currency, since=since, until=until, group=group
            )
            unmatched = self._queries.unmatched_totals(account_id, currency=currency, since=since, until=until)
        return SourceReport(report_range, model, currency, group, sort, source_lines(totals, sort, group), unmatched)

    def summary(self, account_id: int, report_range: Period, currency: str | None = None) -> SummaryReport:
        """Revenue, its trend against the previous period of equal length, order value, match rate, per day."""
        now = self._clock.now()
        since, until = report_range.since(now), report_range.until(now)
        previous = report_range.previous(now)
        with self._queries.reading():
            currency = self._currency(account_id, currency)
            days = self._queries.daily_revenue(
                account_id, currency=currency, since=previous[0] if previous else since, until=until
            )
        summary = summarize(days, since=since, until=until, previous_since=previous[0] if previous else None)
        return SummaryReport(report_range, currency, since, until, summary)

    def source_detail(
        self,
        account_id: int,
        source: str,
        report_range: Period,
        model: Model,
        currency: str | None = None,
        *,
        sort: SortOrder = DEFAULT_SORT,
        purchase_limit: int = DRILL_DOWN_PURCHASES,
    ) -> SourceDetail:
        """One source's mediums, campaigns and landing pages, and the purchases credited to it."""
        with self._queries.reading():
            if not self._queries.has_source(account_id, source):
                raise UnknownSource(source)
            now = self._clock.now()
            since, until = report_range.since(now), report_range.until(now)
            currency = self._currency(account_id, currency)
            tables = {
                breakdown: source_lines(
                    self._queries.breakdown_totals(
                        account_id,
                        source=source,
                        breakdown=breakdown,
                        model=model,
                        currency=currency,
                        since=since,
                        until=until,
                    ),
                    sort,
                    breakdown,
                )
                for breakdown in Breakdown
            }
            purchases = self._queries.purchases(
                account_id,
                limit=purchase_limit,
                credited_to=(model, source),
                currency=currency,
                since=since,
                until=until,
            )
        return SourceDetail(source, report_range, model, currency, sort, tables, purchases)

    def recent_purchases(self, account_id: int, limit: int = 50) -> list[PurchaseRow]:
        """The newest purchases in every currency, each with how it was matched and both touches."""
        return self._queries.purchases(account_id, limit=max(1, min(limit, MAX_PURCHASES)))

    def find_purchases(self, account_id: int, search: PurchaseSearch, page: int = 1) -> PurchasePage:
        """Every purchase matching the search, newest first, PURCHASES_PER_PAGE at a time."""
        page = max(page, 1)
        with self._queries.reading():
            rows, total = self._queries.find_purchases(
                account_id, search, limit=PURCHASES_PER_PAGE, offset=(page - 1) * PURCHASES_PER_PAGE
            )
        return PurchasePage(search, rows, total, page, max(1, -(-total // PURCHASES_PER_PAGE)))

    def purchase(self, account_id: int, purchase_id: int) -> PurchaseDetail | None:
        """One purchase of this account with the buyer's whole session history; None for anyone else's."""
        with self._queries.reading():
            row = self._queries.purchase(account_id, purchase_id)
            if row is None:
                return None
            return PurchaseDetail(row, self._queries.buyer_sessions(account_id, purchase_id))

    def reading(self) -> AbstractContextManager[None]:
        """One connection and one snapshot for several reports (a page showing the table, the summary and the
        recent purchases): the figures agree with each other, and the page pays for one connection."""
        return self._queries.reading()

    def referral_hosts(self, account_id: int, days: int | None = 90, *, known_too: bool = False) -> list[FellThrough]:
        """The referring hosts whose visits fell through to Referral in the last `days` days (all time for
        None), so the source lists can grow. Visits stored under older lists that today's lists name are
        left out unless `known_too`."""
        since = self._clock.now() - timedelta(days=days) if days is not None else None
        with self._queries.reading():
            hosts = self._queries.referral_hosts(account_id, since=since)
        found = [FellThrough(h, registrable_domain(h.host), classify(referrer_host=h.host)) for h in hosts]
        return [f for f in found if known_too or f.still_unknown]

    def recorded_sources(self, account_id: int) -> list[str]:
        """The sources the account's visits were recorded under, for the creator to pick one to rename."""
        with self._queries.reading():
            return self._queries.recorded_sources(account_id)

    def bot_visits(self, account_id: int, days: int = BOT_VISIT_DAYS) -> int:
        """Visits from bots, crawlers and link previews left out of the account's reports in the last `days`
        days (today included)."""
        since = self._clock.now().astimezone(UTC).date() - timedelta(days=days - 1)
        with self._queries.reading():
            return self._queries.bot_visits(account_id, since=since)
