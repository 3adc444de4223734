"""The read side: report queries returning plain rows, always scoped to one account.

Visitors come from the per-day counts in `visitor_counts` (a few thousand rows per account, whatever the
traffic); revenue comes from `revenue_lines`, one flat line per purchase and per crediting model, so a report
adds up one index range of one table. Both are kept up to date by the repositories, in the transaction that
stores a session, a purchase, its credits or a refund. Nothing here loads a domain aggregate.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, exists, func, literal, or_, select

from adapters.persistence import tables as t
from adapters.persistence.revenue_lines import EVERY_PURCHASE, UNMATCHED
from adapters.persistence.rows import touch_from
from core.domain.attribution import Model
from core.domain.channels import Channel
from core.domain.purchases import AttributionStatus
from core.domain.reports import (
    Breakdown,
    DailyRevenue,
    Grouping,
    PurchaseRow,
    PurchaseSearch,
    ReferrerHost,
    SessionRow,
    SourceTotals,
    UnmatchedTotals,
)
from core.domain.source_rules import SourceRule, recorded_as
from core.domain.touches import Touch
from core.domain.visitor_counts import Dimension

_TOUCH_COLUMNS = (
    "source",
    "channel",
    "medium",
    "campaign",
    "term",
    "content",
    "referrer_host",
    "landing_page",
    "click_id",
    "utm_source",
    "at",
)
_BREAKDOWN_DIMENSIONS = {
    Breakdown.MEDIUM: Dimension.SOURCE_MEDIUM,
    Breakdown.CAMPAIGN: Dimension.SOURCE_CAMPAIGN,
    Breakdown.LANDING_PAGE: Dimension.SOURCE_LANDING_PAGE,
    Breakdown.TAGGED: Dimension.SOURCE_TAGGED,
}


def _in_range(column: Any, since: datetime | None, until: datetime | None) -> Any:
    conditions = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return and_(*conditions) if conditions else literal(True)


# The account's source rule of each row's recorded source, joined by `_with_rules`: a report reads
# `coalesce(rule.source, source)` as the source the creator named (see core/domain/source_rules.py).
_RULE = t.source_rules.alias("rule")


def _with_rules(table: Any, source: Any, account_id: int) -> tuple[Any, Any]:
    """`table` joined with the account's rules on its recorded source, and the rule's columns."""
    return table.outerjoin(_RULE, and_(_RULE.c.user_id == account_id, _RULE.c.match == source)), _RULE.c


def _refunded() -> Any:
    return (
        select(func.coalesce(func.sum(t.refunds.c.amount), 0))
        .where(t.refunds.c.purchase_id == t.purchases.c.id)
        .scalar_subquery()
    )


class SqlReportQueries:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Per thread (and per asyncio task): the connection of the report being read, if one is.
        self._current: ContextVar[Connection | None] = ContextVar(f"report_connection_{id(self)}", default=None)

    @contextmanager
    def reading(self) -> Iterator[None]:
        if self._current.get() is not None:
            yield
            return
        with self._engine.connect() as connection:
            token = self._current.set(connection)
            try:
                yield
            finally:
                self._current.reset(token)

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        current = self._current.get()
        if current is not None:
            yield current
            return
        with self._engine.connect() as connection:
            yield connection

    @staticmethod
    def _day(value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    # --- queries ------------------------------------------------------------------------------------

    def _source_rules(self, account_id: int) -> list[SourceRule]:
        r = t.source_rules.c
        with self._connect() as connection:
            rows = connection.execute(select(r.match, r.source, r.channel).where(r.user_id == account_id))
            return [SourceRule(match, name, Channel(channel) if channel else None) for match, name, channel in rows]

    def _recorded_as(self, account_id: int, source: str) -> list[str]:
        """The recorded sources a report shows as `source`: filtering on them keeps the source index in use."""
        return recorded_as(self._source_rules(account_id), source)

    def currencies(self, account_id: int) -> list[str]:
        r = t.revenue_lines.c
        query = (
            select(r.currency)
            .where(r.user_id == account_id, r.model == EVERY_PURCHASE)
            .group_by(r.currency)
            # By number of purchases, not revenue: the count is answered from the index alone.
            .order_by(func.count().desc(), r.currency)
        )
        with self._connect() as connection:
            return list(connection.execute(query).scalars())

    def _visitors(
        self,
        account_id: int,
        model: Model,
        dimension: Dimension,
        since: datetime | None,
        until: datetime,
        source: str | None = None,
    ) -> Any:
        """(label, channel, visitors) from the per-day counts of the days from `since` to before `until`, under the
        creator's source rules."""
        c = t.visitor_counts.c
        counts, rule = _with_rules(t.visitor_counts, c.source, account_id)
        named_source, named_channel = func.coalesce(rule.source, c.source), func.coalesce(rule.channel, c.channel)
        label, channel = {
            Dimension.SOURCE: (named_source, named_channel),
            Dimension.CHANNEL: (named_channel, named_channel),
        }.get(dimension, (c.value, literal("")))
        if dimension is Dimension.CHANNEL and any(r.channel for r in self._source_rules(account_id)):
            # A rule moved a source to another channel: the channel counts cannot tell that source's visitors
            # apart, so add up the sources' counts under the channels they are shown in.
            dimension = Dimension.SOURCE
        conditions = [c.user_id == account_id, c.model == model.value, c.dimension == dimension.value]
        if source is not None:
            conditions.append(c.source.in_(self._recorded_as(account_id, source)))
        if since is not None:
            conditions.append(c.day >= since.date())
        conditions.append(c.day <= (until - timedelta(microseconds=1)).date())
        total = func.sum(c.visitors)
        return (
            select(label, channel, total)
            .select_from(counts)
            .where(*conditions)
            .group_by(label, channel)
            .having(total > 0)
        )

    def _revenue(
        self,
        account_id: int,
        model: Model,
        currency: str,
        since: datetime | None,
        until: datetime,
        label: Any,
        channel: Any,
        *extra: Any,
    ) -> Any:
        """(label, channel, revenue, students, purchases) of the matched purchases the model credits.

        Students are counted by grouping per buyer first and counting the groups: two hash aggregations,
        which PostgreSQL runs several times faster than the sort a count(DISTINCT ...) needs."""
        r = t.revenue_lines.c
        lines, _ = _with_rules(t.revenue_lines, r.source, account_id)
        per_buyer = (
            select(
                label.label("label"),
                func.max(channel).label("channel"),
                r.buyer.label("buyer"),
                func.sum(r.net_amount).label("revenue"),
                func.count().label("purchases"),
            )
            .select_from(lines)
            .where(
                r.user_id == account_id,
                r.model == model.value,
                r.currency == currency,
                _in_range(r.purchased_at, since, until),
                *extra,
            )
            .group_by(label, r.buyer)
            .subquery("per_buyer")
        )
        b = per_buyer.c
        return select(
            b.label, func.max(b.channel), func.sum(b.revenue), func.count(b.buyer), func.sum(b.purchases)
        ).group_by(b.label)

    def _merge(self, visitors: Any, revenue: Any) -> list[SourceTotals]:
        """One row per label. A source reached through several channels (YouTube as Organic Video and as
        Organic Social) is one row, shown under the channel that brought it the most visitors; its visitors
        are the sum over those channels."""
        rows: dict[str, list[int]] = {}
        channels: dict[str, dict[str, int]] = {}
        with self._connect() as connection:
            for label, channel, count in connection.execute(visitors):
                key = label or ""
                rows.setdefault(key, [0, 0, 0, 0])[0] += int(count)
                by_channel = channels.setdefault(key, {})
                by_channel[channel or ""] = by_channel.get(channel or "", 0) + int(count)
            for label, channel, amount, students, purchases in connection.execute(revenue):
                key = label or ""
                rows.setdefault(key, [0, 0, 0, 0])[1:] = [int(amount), int(students), int(purchases)]
                channels.setdefault(key, {}).setdefault(channel or "", 0)
        return [
            SourceTotals(
                source=label,
                channel=max(sorted(channels[label].items()), key=lambda item: item[1])[0],
                visitors=v,
                revenue=r,
                students=s,
                purchases=n,
            )
            for label, (v, r, s, n) in rows.items()
        ]

    def source_totals(
        self,
        account_id: int,
        *,
        model: Model,
        currency: str,
        since: datetime | None,
        until: datetime,
        group: Grouping = Grouping.SOURCE,
    ) -> list[SourceTotals]:
        r = t.revenue_lines.c
        rule = _RULE.c  # joined by `_revenue`
        named_source, named_channel = func.coalesce(rule.source, r.source), func.coalesce(rule.channel, r.channel)
        label, channel, dimension = {
            Grouping.SOURCE: (named_source, named_channel, Dimension.SOURCE),
            Grouping.CHANNEL: (named_channel, named_channel, Dimension.CHANNEL),
            Grouping.CAMPAIGN: (r.campaign, literal(""), Dimension.CAMPAIGN),
        }[group]
        return self._merge(
            self._visitors(account_id, model, dimension, since, until),
            self._revenue(account_id, model, currency, since, until, label, channel),
        )

    def breakdown_totals(
        self,
        account_id: int,
        *,
        source: str,
        breakdown: Breakdown,
        model: Model,
        currency: str,
        since: datetime | None,
        until: datetime,
    ) -> list[SourceTotals]:
        r = t.revenue_lines.c
        label = {
            Breakdown.MEDIUM: r.medium,
            Breakdown.CAMPAIGN: r.campaign,
            Breakdown.LANDING_PAGE: r.landing_path,
            Breakdown.TAGGED: r.utm_source,
        }[breakdown]
        return self._merge(
            self._visitors(account_id, model, _BREAKDOWN_DIMENSIONS[breakdown], since, until, source),
            self._revenue(
                account_id,
                model,
                currency,
                since,
                until,
                label,
                literal(""),
                r.source.in_(self._recorded_as(account_id, source)),
            ),
        )

    def unmatched_totals(
        self, account_id: int, *, currency: str, since: datetime | None, until: datetime
    ) -> UnmatchedTotals:
        r = t.revenue_lines.c
        query = select(func.coalesce(func.sum(r.net_amount), 0), func.count()).where(
            r.user_id == account_id,
            r.model == UNMATCHED,
            r.currency == currency,
            _in_range(r.purchased_at, since, until),
        )
        with self._connect() as connection:
            revenue, purchases = connection.execute(query).one()
        return UnmatchedTotals(revenue=int(revenue), purchases=purchases)

    def daily_revenue(
        self, account_id: int, *, currency: str, since: datetime | None, until: datetime
    ) -> list[DailyRevenue]:
        r = t.revenue_lines.c
        matched = func.sum(case((r.matched, 1), else_=0))
        query = (
            select(r.day, func.sum(r.net_amount), func.count(), matched)
            .where(
                r.user_id == account_id,
                r.model == EVERY_PURCHASE,
                r.currency == currency,
                _in_range(r.purchased_at, since, until),
            )
            .group_by(r.day)
            .order_by(r.day)
        )
        with self._connect() as connection:
            return [
                DailyRevenue(self._day(d), int(revenue), int(count), int(hits))
                for d, revenue, count, hits in connection.execute(query)
            ]

    def has_source(self, account_id: int, source: str) -> bool:
        c, p, a = t.visitor_counts.c, t.purchases.c, t.attributions.c
        recorded = self._recorded_as(account_id, source)
        visited = exists().where(
            c.user_id == account_id,
            c.model == Model.LAST_TOUCH.value,
            c.dimension == Dimension.SOURCE_MEDIUM.value,
            c.source.in_(recorded),
        )
        credited = exists().where(
            a.model.in_([m.value for m in Model]),
            a.touch_source.in_(recorded),
            a.purchase_id == p.id,
            p.user_id == account_id,
        )
        with self._connect() as connection:
            return bool(connection.execute(select(or_(visited, credited))).scalar())

    # --- purchases ----------------------------------------------------------------------------------

    def _purchase_query(self) -> Any:
        p = t.purchases.c
        credits = {model: t.attributions.alias(f"{model.value}_credit") for model in Model}
        touch_columns = [
            credits[model].c[f"touch_{name}"].label(f"{model.value}_{name}")
            for model in Model
            for name in _TOUCH_COLUMNS
        ]
        joined = t.purchases
        for model, credit in credits.items():
            joined = joined.outerjoin(credit, and_(credit.c.purchase_id == p.id, credit.c.model == model.value))
        query = select(
            p.id,
            p.platform,
            p.platform_purchase_id,
            p.email,
            p.course_name,
            p.amount,
            _refunded().label("refunded"),
            p.currency,
            p.purchased_at,
            p.attribution_status,
            p.match_method,
            p.match_confidence,
            p.unmatched_reason,
            *touch_columns,
        ).select_from(joined)
        return query, credits

    @staticmethod
    def _purchase_row(row: Any) -> PurchaseRow:
        m = row._mapping
        return PurchaseRow(
            id=m["id"],
            platform=m["platform"],
            platform_purchase_id=m["platform_purchase_id"],
            email=m["email"],
            course_name=m["course_name"],
            amount=int(m["amount"]),
            refunded=int(m["refunded"]),
            currency=m["currency"],
            purchased_at=m["purchased_at"],
            status=m["attribution_status"],
            match_method=m["match_method"],
            match_confidence=m["match_confidence"],
            unmatched_code=m["unmatched_reason"],
            first_touch=touch_from(m, Model.FIRST_TOUCH.value),
            last_touch=touch_from(m, Model.LAST_TOUCH.value),
        )

    def purchases(
        self,
        account_id: int,
        *,
        limit: int,
        credited_to: tuple[Model, str] | None = None,
        currency: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PurchaseRow]:
        p = t.purchases.c
        query, credits = self._purchase_query()
        conditions = [p.user_id == account_id, _in_range(p.purchased_at, since, until)]
        if currency is not None:
            conditions.append(p.currency == currency)
        if credited_to is not None:
            model, source = credited_to
            conditions += [
                p.attribution_status == AttributionStatus.MATCHED.value,
                credits[model].c.touch_source.in_(self._recorded_as(account_id, source)),
            ]
        query = query.where(*conditions).order_by(p.purchased_at.desc(), p.id.desc()).limit(limit)
        with self._connect() as connection:
            return [self._purchase_row(row) for row in connection.execute(query)]

    def find_purchases(
        self, account_id: int, search: PurchaseSearch, *, limit: int, offset: int = 0
    ) -> tuple[list[PurchaseRow], int]:
        p = t.purchases.c
        query, credits = self._purchase_query()
        conditions = [p.user_id == account_id, _in_range(p.purchased_at, search.since, search.until)]
        if search.email:
            pattern = "%" + search.email.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(func.lower(p.email).like(pattern, escape="\\"))
        if search.platform:
            conditions.append(p.platform == search.platform.lower())
        if search.source:
            # The name as reports show it, under the creator's rules: every recorded source shown so.
            rules = self._source_rules(account_id)
            shown = next((r.source for r in rules if r.source.lower() == search.source.lower()), search.source)
            wanted = sorted({name.lower() for name in recorded_as(rules, shown)})
            conditions.append(or_(*(func.lower(credit.c.touch_source).in_(wanted) for credit in credits.values())))
        page = query.where(*conditions).order_by(p.purchased_at.desc(), p.id.desc()).limit(limit).offset(offset)
        with self._connect() as connection:
            rows = [self._purchase_row(row) for row in connection.execute(page)]
            total = connection.execute(select(func.count()).select_from(query.where(*conditions).subquery())).scalar()
        return rows, int(total or 0)

    def purchase(self, account_id: int, purchase_id: int) -> PurchaseRow | None:
        p = t.purchases.c
        query, _ = self._purchase_query()
        with self._connect() as connection:
            row = connection.execute(query.where(p.user_id == account_id, p.id == purchase_id)).first()
        return self._purchase_row(row) if row is not None else None

    def buyer_sessions(self, account_id: int, purchase_id: int) -> list[SessionRow]:
        p, v, s = t.purchases.c, t.visitors.c, t.sessions.c
        with self._connect() as connection:
            bought = connection.execute(
                select(p.visitor_id, p.email).where(p.user_id == account_id, p.id == purchase_id)
            ).first()
            if bought is None:
                return []
            browsers = [v.id == bought.visitor_id] if bought.visitor_id is not None else []
            if bought.email:
                browsers.append(v.email == bought.email)
            if not browsers:
                return []
            query = (
                select(s, v.visitor_key)
                .select_from(t.sessions.join(t.visitors, v.id == s.visitor_id))
                .where(v.user_id == account_id, s.user_id == account_id, or_(*browsers))
                .order_by(s.started_at, s.id)
            )
            return [
                SessionRow(
                    id=row.id,
                    visitor_key=row.visitor_key,
                    started_at=row.started_at,
                    last_seen_at=row.last_seen_at,
                    touch=Touch(
                        source=row.source,
                        channel=Channel(row.channel),
                        occurred_at=row.started_at,
                        medium=row.medium,
                        campaign=row.campaign,
                        term=row.term,
                        content=row.content,
                        referrer_host=row.referrer_host,
                        landing_page=row.landing_page,
                        click_id=row.click_id,
                        utm_source=row.utm_source,
                    ),
                )
                for row in connection.execute(query)
            ]

    # --- sources ------------------------------------------------------------------------------------

    def referral_hosts(self, account_id: int, *, since: datetime | None) -> list[ReferrerHost]:
        s = t.sessions.c
        sessions = func.count()
        query = (
            select(s.referrer_host, sessions, func.count(s.visitor_id.distinct()), func.max(s.started_at))
            .where(
                s.user_id == account_id,
                s.channel == Channel.REFERRAL.value,
                s.referrer_host.is_not(None),
                _in_range(s.started_at, since, None),
            )
            .group_by(s.referrer_host)
            .order_by(sessions.desc(), s.referrer_host)
        )
        with self._connect() as connection:
            return [
                ReferrerHost(host=host, sessions=int(count), visitors=int(visitors), last_seen_at=last)
                for host, count, visitors, last in connection.execute(query)
            ]

    def recorded_sources(self, account_id: int) -> list[str]:
        c = t.visitor_counts.c
        query = (
            select(c.source)
            .where(c.user_id == account_id, c.model == Model.LAST_TOUCH.value, c.dimension == Dimension.SOURCE.value)
            .group_by(c.source)
            .order_by(c.source)
        )
        with self._connect() as connection:
            return list(connection.execute(query).scalars())

    def bot_visits(self, account_id: int, *, since: date) -> int:
        b, s = t.bot_visits.c, t.sites.c
        query = (
            select(func.coalesce(func.sum(b.visits), 0))
            .select_from(t.bot_visits.join(t.sites, s.id == b.site_id))
            .where(s.user_id == account_id, b.day >= since)
        )
        with self._connect() as connection:
            return int(connection.execute(query).scalar_one())
