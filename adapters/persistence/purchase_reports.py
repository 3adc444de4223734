"""Reports of purchases: the purchases page and its search, one purchase with its credits, and the sessions
that led its buyer to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from adapters.persistence import tables as t
from adapters.persistence.report_reading import ReportReading, in_range
from adapters.persistence.rows import TOUCH_FIELDS, touch_from
from core.domain.attribution import Model
from core.domain.channels import Channel
from core.domain.purchases import AttributionStatus
from core.domain.reports import (
    PurchaseRow,
    PurchaseSearch,
    SessionRow,
)
from core.domain.source_rules import recorded_as
from core.domain.touches import Touch

_TOUCH_COLUMNS = (*TOUCH_FIELDS, "at")


def _refunded() -> Any:
    return (
        select(func.coalesce(func.sum(t.refunds.c.amount), 0))
        .where(t.refunds.c.purchase_id == t.purchases.c.id)
        .scalar_subquery()
    )


class PurchaseReports(ReportReading):
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
        conditions = [p.user_id == account_id, in_range(p.purchased_at, since, until)]
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
        conditions = [p.user_id == account_id, in_range(p.purchased_at, search.since, search.until)]
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
