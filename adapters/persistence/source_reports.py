"""Reports by source: visitors from the per-day `visitor_counts`, revenue from the flat `revenue_lines`, merged
per source (or per medium, campaign, landing page or raw tag within one source), per day, and the referrers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, literal, or_, select

from adapters.persistence import tables as t
from adapters.persistence.report_reading import RULE, ReportReading, in_range, with_rules
from adapters.persistence.revenue_lines import EVERY_PURCHASE, UNMATCHED
from core.domain.attribution import Model
from core.domain.channels import Channel
from core.domain.reports import (
    Breakdown,
    DailyRevenue,
    Grouping,
    ReferrerHost,
    SourceTotals,
    UnmatchedTotals,
)
from core.domain.visitor_counts import Dimension

_BREAKDOWN_DIMENSIONS = {
    Breakdown.MEDIUM: Dimension.SOURCE_MEDIUM,
    Breakdown.CAMPAIGN: Dimension.SOURCE_CAMPAIGN,
    Breakdown.LANDING_PAGE: Dimension.SOURCE_LANDING_PAGE,
    Breakdown.TAGGED: Dimension.SOURCE_TAGGED,
}


class SourceReports(ReportReading):
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
        counts, rule = with_rules(t.visitor_counts, c.source, account_id)
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
        lines, _ = with_rules(t.revenue_lines, r.source, account_id)
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
                in_range(r.purchased_at, since, until),
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
        rule = RULE.c  # joined by `_revenue`
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
            in_range(r.purchased_at, since, until),
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
                in_range(r.purchased_at, since, until),
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
                in_range(s.started_at, since, None),
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
