"""Purchases and their attribution: credits per model, the journey behind each, refunds."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, or_, select, update

from adapters.persistence import tables as t
from adapters.persistence.revenue_lines import refresh_revenue_lines
from adapters.persistence.rows import insert_ignoring_duplicates, touch_from, touch_values
from core.domain.attribution import Credit, Model
from core.domain.identities import IdentityTouch
from core.domain.money import Money
from core.domain.purchases import AttributionStatus, MatchMethod, Purchase, RefundRecord, UnmatchedReason


class SqlPurchases:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    @staticmethod
    def _purchase(row: Row[Any]) -> Purchase:
        return Purchase(
            id=row.id,
            account_id=row.user_id,
            platform=row.platform,
            platform_purchase_id=row.platform_purchase_id,
            amount=Money(row.amount, row.currency),
            purchased_at=row.purchased_at,
            email=row.email,
            course_name=row.course_name,
            visitor_key=row.visitor_key,
            source_hint=row.source_hint,
            referrer_hint=row.referrer_hint,
            visitor_id=row.visitor_id,
            status=AttributionStatus(row.attribution_status),
            match_method=MatchMethod(row.match_method) if row.match_method else None,
            recipient_email=row.recipient_email,
            match_confidence=row.match_confidence,
            rules_version=row.rules_version,
            unmatched_reason=UnmatchedReason(row.unmatched_reason) if row.unmatched_reason else None,
        )

    def get_by_platform_id(self, account_id: int, platform: str, platform_purchase_id: str) -> Purchase | None:
        row = self._c.execute(
            select(t.purchases).where(
                t.purchases.c.user_id == account_id,
                t.purchases.c.platform == platform,
                t.purchases.c.platform_purchase_id == platform_purchase_id,
            )
        ).first()
        return self._purchase(row) if row else None

    def _match_values(self, purchase: Purchase) -> dict[str, Any]:
        return {
            "visitor_id": purchase.visitor_id,
            "attribution_status": purchase.status.value,
            "match_method": purchase.match_method.value if purchase.match_method else None,
            "match_confidence": purchase.match_confidence,
            "rules_version": purchase.rules_version,
            "unmatched_reason": purchase.unmatched_reason.value if purchase.unmatched_reason else None,
        }

    def add(self, purchase: Purchase) -> Purchase:
        purchase.id = self._c.execute(
            insert(t.purchases)
            .values(
                user_id=purchase.account_id,
                platform=purchase.platform,
                platform_purchase_id=purchase.platform_purchase_id,
                email=purchase.email,
                amount=purchase.amount.amount,
                currency=purchase.amount.currency,
                course_name=purchase.course_name,
                purchased_at=purchase.purchased_at,
                visitor_key=purchase.visitor_key,
                source_hint=purchase.source_hint,
                referrer_hint=purchase.referrer_hint,
                recipient_email=purchase.recipient_email,
                **self._match_values(purchase),
            )
            .returning(t.purchases.c.id)
        ).scalar_one()
        refresh_revenue_lines(self._c, purchase.id)
        return purchase

    def update(self, purchase: Purchase) -> None:
        # What a later record of the same sale may add (Stripe's Checkout Session brings the visitor id
        # after the payment), and how it is matched.
        details = {
            "email": purchase.email,
            "course_name": purchase.course_name,
            "visitor_key": purchase.visitor_key,
            "recipient_email": purchase.recipient_email,
        }
        self._c.execute(
            update(t.purchases).where(t.purchases.c.id == purchase.id).values(**details, **self._match_values(purchase))
        )
        assert purchase.id is not None
        refresh_revenue_lines(self._c, purchase.id)

    def get(self, purchase_id: int) -> Purchase | None:
        row = self._c.execute(select(t.purchases).where(t.purchases.c.id == purchase_id)).first()
        return self._purchase(row) if row else None

    def involving(
        self, account_id: int, *, visitor_ids: Collection[int], keys: Collection[str], emails: Collection[str]
    ) -> Sequence[Purchase]:
        p = t.purchases.c
        conditions = []
        if visitor_ids:
            ids = list(visitor_ids)
            in_journey = select(t.purchase_touches.c.purchase_id).where(t.purchase_touches.c.visitor_id.in_(ids))
            conditions += [p.visitor_id.in_(ids), p.id.in_(in_journey)]
        if keys:
            conditions.append(p.visitor_key.in_(list(keys)))
        if emails:
            conditions += [p.email.in_(list(emails)), p.recipient_email.in_(list(emails))]
        if not conditions:
            return []
        rows = self._c.execute(select(t.purchases).where(p.user_id == account_id, or_(*conditions)).order_by(p.id))
        return [self._purchase(row) for row in rows]

    def purchased_between(self, account_id: int, since: datetime, until: datetime) -> Sequence[Purchase]:
        p = t.purchases.c
        rows = self._c.execute(
            select(t.purchases)
            .where(p.user_id == account_id, p.purchased_at >= since, p.purchased_at <= until)
            .order_by(p.purchased_at, p.id)
        )
        return [self._purchase(row) for row in rows]

    def any_purchased_since(self, account_id: int, moment: datetime) -> bool:
        p = t.purchases.c
        query = select(p.id).where(p.user_id == account_id, p.purchased_at >= moment).limit(1)
        return self._c.execute(query).first() is not None

    def strongly_matched_visitors(
        self, account_id: int, since: datetime, until: datetime, *, excluding: int | None = None
    ) -> set[int]:
        p, j = t.purchases.c, t.purchase_touches.c
        strong = [MatchMethod.VISITOR_ID.value, MatchMethod.EMAIL.value, MatchMethod.RECIPIENT_EMAIL.value]
        conditions = [
            p.user_id == account_id,
            p.purchased_at >= since,
            p.purchased_at <= until,
            p.match_method.in_(strong),
        ]
        if excluding is not None:
            conditions.append(p.id != excluding)
        anchors = self._c.execute(select(p.visitor_id).where(*conditions)).scalars()
        journeys = self._c.execute(
            select(j.visitor_id)
            .select_from(t.purchase_touches.join(t.purchases, p.id == j.purchase_id))
            .where(*conditions)
        ).scalars()
        return {v for v in (*anchors, *journeys) if v is not None}

    def ids_attributed_before(self, rules_version: int, account_id: int | None = None) -> Sequence[int]:
        p = t.purchases.c
        query = select(p.id).where(or_(p.rules_version.is_(None), p.rules_version < rules_version))
        if account_id is not None:
            query = query.where(p.user_id == account_id)
        return list(self._c.execute(query.order_by(p.purchased_at, p.id)).scalars())

    def credits(self, purchase_id: int) -> Sequence[Credit]:
        a = t.attributions.c
        rows = self._c.execute(select(t.attributions).where(a.purchase_id == purchase_id).order_by(a.model))
        found = []
        for row in rows:
            touch = touch_from(row._mapping, "touch")
            if touch is not None:
                found.append(Credit(Model(row.model), touch, row.rules_version))
        return found

    def history(self, purchase_id: int) -> Sequence[IdentityTouch]:
        j = t.purchase_touches.c
        rows = self._c.execute(select(t.purchase_touches).where(j.purchase_id == purchase_id).order_by(j.position))
        found = []
        for row in rows:
            touch = touch_from(row._mapping, "touch")
            if touch is not None:
                found.append(IdentityTouch(row.visitor_id, touch))
        return found

    def replace_history(self, purchase_id: int, history: Sequence[IdentityTouch]) -> None:
        self._c.execute(delete(t.purchase_touches).where(t.purchase_touches.c.purchase_id == purchase_id))
        if history:
            self._c.execute(
                insert(t.purchase_touches),
                [
                    {
                        "purchase_id": purchase_id,
                        "position": position,
                        "visitor_id": item.visitor_id,
                        **touch_values("touch", item.touch),
                    }
                    for position, item in enumerate(history)
                ],
            )

    def add_refund(self, purchase_id: int, refund: RefundRecord) -> bool:
        values = {
            "purchase_id": purchase_id,
            "platform_refund_id": refund.platform_refund_id,
            "amount": refund.amount.amount,
            "refunded_at": refund.refunded_at,
        }
        stored = insert_ignoring_duplicates(self._c, t.refunds, values, ["purchase_id", "platform_refund_id"])
        if not stored:
            # A running total (Teachable's and Stripe's amount_refunded) grew with a later partial refund.
            r = t.refunds.c
            raised = self._c.execute(
                update(t.refunds)
                .where(r.purchase_id == purchase_id, r.platform_refund_id == refund.platform_refund_id)
                .where(r.amount < refund.amount.amount)
                .values(amount=refund.amount.amount, refunded_at=refund.refunded_at)
                .returning(r.id)
            ).first()
            stored = raised is not None
        if stored:
            refresh_revenue_lines(self._c, purchase_id)
        return stored

    def replace_credits(self, purchase_id: int, credits: Sequence[Credit]) -> None:
        self._c.execute(delete(t.attributions).where(t.attributions.c.purchase_id == purchase_id))
        if credits:
            self._c.execute(
                insert(t.attributions),
                [
                    {
                        "purchase_id": purchase_id,
                        "model": c.model.value,
                        "rules_version": c.rules_version,
                        **touch_values("touch", c.touch),
                    }
                    for c in credits
                ],
            )
        # The reports' flat copy of this purchase follows its credits in the same transaction.
        refresh_revenue_lines(self._c, purchase_id)

    def store_buyer_details(self, purchase: Purchase) -> None:
        assert purchase.id is not None
        self._c.execute(
            update(t.purchases)
            .where(t.purchases.c.id == purchase.id)
            .values(
                email=purchase.email,
                recipient_email=purchase.recipient_email,
                visitor_key=purchase.visitor_key,
                referrer_hint=purchase.referrer_hint,
                **self._match_values(purchase),
            )
        )
        refresh_revenue_lines(self._c, purchase.id)

    def count_for_account(self, account_id: int) -> int:
        return int(
            self._c.execute(
                select(func.count()).select_from(t.purchases).where(t.purchases.c.user_id == account_id)
            ).scalar_one()
        )
