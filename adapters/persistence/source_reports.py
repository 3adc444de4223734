"""Reports by source: visitors from the per-day `visitor_counts`, revenue from the per-day `revenue_days`,
merged per source (or per medium, campaign, landing page or raw tag within one source), per day, and the
referrers. A report adds up days, whatever the number of purchases. A range that does not cover whole days of
stored purchases (it ends now, and a purchase is stored later today) reads the flat `revenue_lines` instead:
the same figures from the lines themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select

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
    start_of,
)
from core.domain.revenue_days import NO_EARLIER_DAY, RevenueDimension
from core.domain.visitor_counts import Dimension

_BREAKDOWN_DIMENSIONS = {
    Breakdown.MEDIUM: Dimension.SOURCE_MEDIUM,
    Breakdown.CAMPAIGN: Dimension.SOURCE_CAMPAIGN,
    Breakdown.LANDING_PAGE: Dimension.SOURCE_LANDING_PAGE,
    Breakdown.TAGGED: Dimension.SOURCE_TAGGED,
}
# Two tables: Grouping.CAMPAIGN and Breakdown.CAMPAIGN are both the string "campaign", one key in a dict.
_GROUPING_REVENUE = {
    Grouping.SOURCE: RevenueDimension.SOURCE,
    Grouping.CHANNEL: RevenueDimension.CHANNEL,
    Grouping.CAMPAIGN: RevenueDimension.CAMPAIGN,
}
_BREAKDOWN_REVENUE = {
    Breakdown.MEDIUM: RevenueDimension.SOURCE_MEDIUM,
    Breakdown.CAMPAIGN: RevenueDimension.SOURCE_CAMPAIGN,
    Breakdown.LANDING_PAGE: RevenueDimension.SOURCE_LANDING_PAGE,
    Breakdown.TAGGED: RevenueDimension.SOURCE_TAGGED,
}
Days = tuple[date | None, date]  # the first (None: since the beginning) and last UTC day of a range


class SourceReports(ReportReading):
    def currencies(self, account_id: int) -> list[str]:
        d = t.revenue_days.c
        query = (
            select(d.currency)
            .where(d.user_id == account_id, d.model == EVERY_PURCHASE, d.dimension == RevenueDimension.TOTAL.value)
            .group_by(d.currency)
            .order_by(func.sum(d.purchases).desc(), d.currency)
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

    def _days(self, account_id: int, currency: str, since: datetime | None, until: datetime) -> Days | None:
        """The whole UTC days of a range, when adding up per-day figures answers it exactly; None when the
        range starts within a day, or ends within a day that has a purchase stored after its end."""
        return self._once(
            ("days", account_id, currency, since, until), partial(self._whole_days, account_id, currency, since, until)
        )

    def _whole_days(self, account_id: int, currency: str, since: datetime | None, until: datetime) -> Days | None:
        if since is not None and since != start_of(since.astimezone(UTC).date()):
            return None
        last = (until - timedelta(microseconds=1)).astimezone(UTC).date()
        day_end = start_of(last + timedelta(days=1))
        if until < day_end:
            r = t.revenue_lines.c
            later = select(r.purchase_id).where(
                r.user_id == account_id,
                r.model == EVERY_PURCHASE,
                r.currency == currency,
                r.purchased_at >= until,
                r.purchased_at < day_end,
            )
            with self._connect() as connection:
                if connection.execute(later.limit(1)).first() is not None:
                    return None
        return (since.astimezone(UTC).date() if since is not None else None, last)

    @staticmethod
    def _in_days(column: Any, days: Days) -> Any:
        first, last = days
        return and_(column <= last, column >= first) if first is not None else column <= last

    def _revenue_from_days(
        self, account_id: int, model: str, currency: str, days: Days, dimension: RevenueDimension, source: str = ""
    ) -> Any:
        """What `_revenue` answers, from the per-day figures: a buyer is a student of the range on the one day
        whose previous day under the key falls before it (core/domain/revenue_days.py)."""
        d = t.revenue_days.c
        dimensions = [dimension]
        counted: Any = literal(True)
        label: Any = d.source if dimension is RevenueDimension.SOURCE else d.value
        channel: Any = literal("")
        if dimension is RevenueDimension.SOURCE:
            # The channel a source's revenue came through, for a source with no visitors in the range.
            dimensions.append(RevenueDimension.SOURCE_CHANNEL)
            counted = d.dimension == dimension.value
            channel = func.max(case((d.dimension == RevenueDimension.SOURCE_CHANNEL.value, d.value)))
        elif dimension is RevenueDimension.CHANNEL:
            channel = func.max(d.value)
        first = days[0]
        new_student = d.previous_day < first if first is not None else d.previous_day == NO_EARLIER_DAY
        conditions = [
            d.user_id == account_id,
            d.model == model,
            d.currency == currency,
            d.dimension.in_([dim.value for dim in dimensions]),
            self._in_days(d.day, days),
        ]
        if source:
            conditions.append(d.source == source)
        return (
            select(
                label,
                channel,
                func.sum(case((counted, d.revenue), else_=0)),
                func.sum(case((and_(counted, new_student), d.students), else_=0)),
                func.sum(case((counted, d.purchases), else_=0)),
            )
            .where(*conditions)
            .group_by(label)
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
        days = self._days(account_id, currency, since, until)
        return self._merge(
            self._visitors(account_id, model, dimension, since, until),
            self._revenue_from_days(account_id, model.value, currency, days, _GROUPING_REVENUE[group])
            if days is not None
            else self._revenue(account_id, model, currency, since, until, label, channel),
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
        days = self._days(account_id, currency, since, until)
        return self._merge(
            self._visitors(account_id, model, _BREAKDOWN_DIMENSIONS[breakdown], since, until, source),
            self._revenue_from_days(account_id, model.value, currency, days, _BREAKDOWN_REVENUE[breakdown], source)
            if days is not None
            else self._revenue(
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
        r, d = t.revenue_lines.c, t.revenue_days.c
        days = self._days(account_id, currency, since, until)
        query = select(func.coalesce(func.sum(r.net_amount), 0), func.count()).where(
            r.user_id == account_id,
            r.model == UNMATCHED,
            r.currency == currency,
            in_range(r.purchased_at, since, until),
        )
        if days is not None:
            query = select(func.coalesce(func.sum(d.revenue), 0), func.coalesce(func.sum(d.purchases), 0)).where(
                d.user_id == account_id,
                d.model == UNMATCHED,
                d.currency == currency,
                d.dimension == RevenueDimension.TOTAL.value,
                self._in_days(d.day, days),
            )
        with self._connect() as connection:
            revenue, purchases = connection.execute(query).one()
        return UnmatchedTotals(revenue=int(revenue), purchases=int(purchases))

    def daily_revenue(
        self, account_id: int, *, currency: str, since: datetime | None, until: datetime
    ) -> list[DailyRevenue]:
        r, d = t.revenue_lines.c, t.revenue_days.c
        days = self._days(account_id, currency, since, until)
        query = (
            select(r.day, func.sum(r.net_amount), func.count(), func.sum(case((r.matched, 1), else_=0)))
            .where(
                r.user_id == account_id,
                r.model == EVERY_PURCHASE,
                r.currency == currency,
                in_range(r.purchased_at, since, until),
            )
            .group_by(r.day)
            .order_by(r.day)
        )
        if days is not None:
            query = (
                select(d.day, func.sum(d.revenue), func.sum(d.purchases), func.sum(d.matched))
                .where(
                    d.user_id == account_id,
                    d.model == EVERY_PURCHASE,
                    d.currency == currency,
                    d.dimension == RevenueDimension.TOTAL.value,
                    self._in_days(d.day, days),
                )
                .group_by(d.day)
                .order_by(d.day)
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
