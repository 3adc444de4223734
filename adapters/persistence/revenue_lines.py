"""`revenue_lines`: each purchase once more, flat and narrow, as the reports read it.

One line per purchase (model "purchase": every purchase, matched or not), one more for an unmatched one
(model "unmatched") and one per model that credits a matched one (first_touch, last_touch), each carrying
the net amount after refunds, the buyer, the UTC day and the credited touch's source, channel, medium,
campaign, landing page and raw utm_source value. Reports then add up one index range of
one table instead of joining purchases, credits and refunds for every request.

The lines of a purchase are rewritten whenever the purchase, its credits or its refunds change, by the
repository methods that change them, in the same transaction, and the per-day figures the reports add up
(revenue_days.py) follow them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, inspect, select

from adapters.persistence import revenue_days
from adapters.persistence import tables as t
from core.domain.purchases import AttributionStatus
from core.domain.reports import landing_path

EVERY_PURCHASE = "purchase"  # the model value of the line every purchase has
UNMATCHED = "unmatched"  # and of a second line each unmatched purchase has, so the Unmatched row reads an index


def buyer_key(email: str | None, visitor_id: int | None) -> str | None:
    """Who a student is: the email, or the matched visitor when the platform gave no email."""
    if email:
        return email
    return f"visitor:{visitor_id}" if visitor_id is not None else None


def lines_for(purchase: Mapping[str, Any], refunded: int, credits: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The lines of one purchase from its row, its refunded total and its credit rows (touch_* columns)."""
    purchased_at: datetime = purchase["purchased_at"]
    matched = purchase["attribution_status"] == AttributionStatus.MATCHED.value
    common = {
        "purchase_id": purchase["id"],
        "user_id": purchase["user_id"],
        "currency": purchase["currency"],
        "purchased_at": purchased_at,
        "day": purchased_at.date(),
        "net_amount": purchase["amount"] - refunded,
        "buyer": buyer_key(purchase["email"], purchase["visitor_id"]),
        "matched": matched,
    }
    lines = [
        {
            **common,
            "model": EVERY_PURCHASE,
            "source": None,
            "channel": None,
            "medium": None,
            "campaign": None,
            "landing_path": None,
            "utm_source": None,
        }
    ]
    if not matched:
        lines.append({**lines[0], "model": UNMATCHED})
    if matched:
        lines += [
            {
                **common,
                "model": credit["model"],
                "source": credit["touch_source"],
                "channel": credit["touch_channel"],
                "medium": credit["touch_medium"] or "",
                "campaign": credit["touch_campaign"] or "",
                "landing_path": landing_path(credit["touch_landing_page"]),
                "utm_source": credit.get("touch_utm_source") or "",
            }
            for credit in credits
        ]
    return lines


def refresh_revenue_lines(
    connection: Connection, purchase_id: int, *, raw_source: bool = True, keep_days: bool = True
) -> None:
    """Rewrite the purchase's lines from its row, credits and refunds, and (`keep_days`) the per-day figures
    with them; migrations that run before the figures' table exists leave them out."""
    purchase = connection.execute(
        select(
            t.purchases.c.id,
            t.purchases.c.user_id,
            t.purchases.c.currency,
            t.purchases.c.purchased_at,
            t.purchases.c.amount,
            t.purchases.c.email,
            t.purchases.c.visitor_id,
            t.purchases.c.attribution_status,
        ).where(t.purchases.c.id == purchase_id)
    ).first()
    if purchase is None:
        connection.execute(delete(t.revenue_lines).where(t.revenue_lines.c.purchase_id == purchase_id))
        return
    refunded = connection.execute(
        select(func.coalesce(func.sum(t.refunds.c.amount), 0)).where(t.refunds.c.purchase_id == purchase_id)
    ).scalar_one()
    a = t.attributions.c
    columns = [a.model, a.touch_source, a.touch_channel, a.touch_medium, a.touch_campaign, a.touch_landing_page]
    if raw_source:
        columns.append(a.touch_utm_source)
    credits = connection.execute(select(*columns).where(a.purchase_id == purchase_id))
    lines = lines_for(purchase._mapping, int(refunded), [row._mapping for row in credits])
    if not raw_source:
        lines = [{k: v for k, v in line.items() if k != "utm_source"} for line in lines]
    following = (
        revenue_days.following(connection, purchase.user_id, purchase_id, [line["buyer"] for line in lines])
        if keep_days
        else nullcontext()
    )
    with following:
        connection.execute(delete(t.revenue_lines).where(t.revenue_lines.c.purchase_id == purchase_id))
        connection.execute(insert(t.revenue_lines), lines)


def raw_source_stored(connection: Connection) -> bool:
    """Whether the database has the raw utm_source columns yet.

    Migration 0020 adds them; the rebuilds here and in visitor_counts.py also run inside migration 0006,
    on a schema without them, so they read and write the raw value only once it exists."""
    return "utm_source" in {column["name"] for column in inspect(connection).get_columns("sessions")}


def rebuild_revenue_lines(connection: Connection) -> None:
    """Every purchase's lines from the stored purchases, credits and refunds (migration backfill); the per-day
    figures are rebuilt from them once their table exists (rebuild_revenue_days)."""
    ids = list(connection.execute(select(t.purchases.c.id).order_by(t.purchases.c.id)).scalars())
    raw_source = raw_source_stored(connection)
    for purchase_id in ids:
        refresh_revenue_lines(connection, purchase_id, raw_source=raw_source, keep_days=False)
