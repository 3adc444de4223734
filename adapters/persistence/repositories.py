"""Repositories: domain objects in, domain objects out; rows never leave this module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence import tables as t
from adapters.persistence.revenue_lines import refresh_revenue_lines
from adapters.persistence.visitor_counts import store_changes
from core.domain.attribution import Credit
from core.domain.events import TrackerEvent
from core.domain.money import Money
from core.domain.purchases import AttributionStatus, MatchMethod, Purchase, RefundRecord
from core.domain.sites import Account, Site
from core.domain.sources import Channel
from core.domain.touches import Touch
from core.domain.visitor_counts import visitor_count_changes
from core.domain.visitors import Session, Visitor

_TOUCH_FIELDS = (
    "source",
    "channel",
    "medium",
    "campaign",
    "term",
    "content",
    "referrer_host",
    "landing_page",
    "click_id",
)


def touch_values(prefix: str, touch: Touch | None) -> dict[str, Any]:
    if touch is None:
        return {f"{prefix}_{name}": None for name in (*_TOUCH_FIELDS, "at")}
    values = {f"{prefix}_{name}": getattr(touch, name) for name in _TOUCH_FIELDS}
    values[f"{prefix}_channel"] = touch.channel.value
    values[f"{prefix}_at"] = touch.occurred_at
    return values


def touch_from(row: Mapping[str, Any], prefix: str) -> Touch | None:
    if row[f"{prefix}_at"] is None:
        return None
    return Touch(
        source=row[f"{prefix}_source"],
        channel=Channel(row[f"{prefix}_channel"]),
        occurred_at=row[f"{prefix}_at"],
        **{name: row[f"{prefix}_{name}"] for name in _TOUCH_FIELDS if name not in ("source", "channel")},
    )


def insert_ignoring_duplicates(connection: Connection, table: t.Table, values: dict[str, Any], keys: list[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was written."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    # RETURNING, not rowcount: the driver's rowcount is unreliable for ON CONFLICT on some dialects.
    return connection.execute(statement.returning(table.c.id)).first() is not None


class SqlAccounts:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, account: Account) -> Account:
        account.id = self._c.execute(
            insert(t.users).values(email=account.email, created_at=account.created_at).returning(t.users.c.id)
        ).scalar_one()
        return account

    def _one(self, where: Any) -> Account | None:
        row = self._c.execute(select(t.users.c.id, t.users.c.email, t.users.c.created_at).where(where)).first()
        return Account(id=row.id, email=row.email, created_at=row.created_at) if row else None

    def get(self, account_id: int) -> Account | None:
        return self._one(t.users.c.id == account_id)

    def get_by_email(self, email: str) -> Account | None:
        return self._one(t.users.c.email == email)


class SqlApiTokens:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, account_id: int, token_hash: str, name: str, created_at: datetime) -> None:
        self._c.execute(
            insert(t.api_tokens).values(user_id=account_id, token_hash=token_hash, name=name, created_at=created_at)
        )

    def account_id_for(self, token_hash: str, used_at: datetime) -> int | None:
        account_id = self._c.execute(
            update(t.api_tokens)
            .where(t.api_tokens.c.token_hash == token_hash)
            .values(last_used_at=used_at)
            .returning(t.api_tokens.c.user_id)
        ).scalar_one_or_none()
        return int(account_id) if account_id is not None else None


class SqlSites:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    @staticmethod
    def _site(row: Row[Any]) -> Site:
        return Site(
            id=row.id, account_id=row.user_id, public_key=row.public_key, allowed_domains=tuple(row.allowed_domains)
        )

    def add(self, site: Site) -> Site:
        site.id = self._c.execute(
            insert(t.sites)
            .values(user_id=site.account_id, public_key=site.public_key, allowed_domains=list(site.allowed_domains))
            .returning(t.sites.c.id)
        ).scalar_one()
        return site

    def get_by_key(self, public_key: str) -> Site | None:
        row = self._c.execute(select(t.sites).where(t.sites.c.public_key == public_key)).first()
        return self._site(row) if row else None

    def list_for_account(self, account_id: int) -> Sequence[Site]:
        rows = self._c.execute(select(t.sites).where(t.sites.c.user_id == account_id).order_by(t.sites.c.id))
        return [self._site(row) for row in rows]


class SqlVisitors:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    @staticmethod
    def _visitor(row: Row[Any]) -> Visitor:
        m = row._mapping
        return Visitor(
            id=m["id"],
            site_id=m["site_id"],
            key=m["visitor_key"],
            email=m["email"],
            first_seen_at=m["first_seen_at"],
            first_touch=touch_from(m, "first_touch"),
            last_touch=touch_from(m, "last_touch"),
        )

    def _values(self, visitor: Visitor) -> dict[str, Any]:
        return {
            "email": visitor.email,
            **touch_values("first_touch", visitor.first_touch),
            **touch_values("last_touch", visitor.last_touch),
        }

    def _where(self, *conditions: Any) -> list[Visitor]:
        return [self._visitor(row) for row in self._c.execute(select(t.visitors).where(*conditions))]

    def get_by_key(self, site_id: int, key: str) -> Visitor | None:
        found = self._where(t.visitors.c.site_id == site_id, t.visitors.c.visitor_key == key)
        return found[0] if found else None

    def get(self, visitor_id: int) -> Visitor | None:
        found = self._where(t.visitors.c.id == visitor_id)
        return found[0] if found else None

    def add(self, visitor: Visitor) -> Visitor:
        account_id = select(t.sites.c.user_id).where(t.sites.c.id == visitor.site_id).scalar_subquery()
        visitor.id = self._c.execute(
            insert(t.visitors)
            .values(
                site_id=visitor.site_id,
                user_id=account_id,
                visitor_key=visitor.key,
                first_seen_at=visitor.first_seen_at,
                **self._values(visitor),
            )
            .returning(t.visitors.c.id)
        ).scalar_one()
        return visitor

    def update(self, visitor: Visitor) -> None:
        self._c.execute(update(t.visitors).where(t.visitors.c.id == visitor.id).values(**self._values(visitor)))

    def with_email(self, account_id: int, email: str) -> Sequence[Visitor]:
        return self._where(t.visitors.c.user_id == account_id, t.visitors.c.email == email)

    def with_key(self, account_id: int, key: str) -> Visitor | None:
        found = self._where(t.visitors.c.user_id == account_id, t.visitors.c.visitor_key == key)
        return found[0] if found else None


def session_touch(row: Row[Any]) -> Touch:
    """A session's touch: the columns of the sessions table, dated at the session's start."""
    m = row._mapping
    return Touch(
        source=m["source"],
        channel=Channel(m["channel"]),
        occurred_at=m["started_at"],
        **{name: m[name] for name in _TOUCH_FIELDS if name not in ("source", "channel")},
    )


class SqlSessions:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def latest(self, visitor_id: int) -> Session | None:
        row = self._c.execute(
            select(t.sessions)
            .where(t.sessions.c.visitor_id == visitor_id)
            .order_by(t.sessions.c.started_at.desc(), t.sessions.c.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return Session(
            id=row.id,
            visitor_id=row.visitor_id,
            touch=session_touch(row),
            started_at=row.started_at,
            last_seen_at=row.last_seen_at,
        )

    def add(self, session: Session) -> Session:
        account_id = select(t.visitors.c.user_id).where(t.visitors.c.id == session.visitor_id).scalar_subquery()
        touch = {k.removeprefix("touch_"): v for k, v in touch_values("touch", session.touch).items()}
        del touch["at"]
        earlier = self.touches(session.visitor_id)
        session.id, owner = self._c.execute(
            insert(t.sessions)
            .values(
                visitor_id=session.visitor_id,
                user_id=account_id,
                started_at=session.started_at,
                last_seen_at=session.last_seen_at,
                **touch,
            )
            .returning(t.sessions.c.id, t.sessions.c.user_id)
        ).one()
        # The reports' visitor counts move in the same transaction as the session that changes them.
        store_changes(
            self._c, owner, visitor_count_changes(earlier, replace(session.touch, occurred_at=session.started_at))
        )
        return session

    def touch_seen(self, session: Session) -> None:
        self._c.execute(
            update(t.sessions).where(t.sessions.c.id == session.id).values(last_seen_at=session.last_seen_at)
        )

    def touches(self, visitor_id: int) -> Sequence[Touch]:
        rows = self._c.execute(
            select(t.sessions).where(t.sessions.c.visitor_id == visitor_id).order_by(t.sessions.c.started_at)
        )
        return [session_touch(row) for row in rows]


class SqlEvents:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, event: TrackerEvent, site_id: int, visitor_id: int, session_id: int | None) -> bool:
        values = {
            "site_id": site_id,
            "visitor_id": visitor_id,
            "session_id": session_id,
            "client_event_id": event.client_event_id,
            "kind": event.kind.value,
            "url": event.url,
            "referrer": event.referrer,
            "title": event.title,
            "occurred_at": event.received_at,
        }
        return insert_ignoring_duplicates(self._c, t.events, values, ["site_id", "client_event_id"])


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
            visitor_id=row.visitor_id,
            status=AttributionStatus(row.attribution_status),
            match_method=MatchMethod(row.match_method) if row.match_method else None,
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
                **self._match_values(purchase),
            )
            .returning(t.purchases.c.id)
        ).scalar_one()
        refresh_revenue_lines(self._c, purchase.id)
        return purchase

    def update(self, purchase: Purchase) -> None:
        self._c.execute(
            update(t.purchases).where(t.purchases.c.id == purchase.id).values(**self._match_values(purchase))
        )
        assert purchase.id is not None
        refresh_revenue_lines(self._c, purchase.id)

    def unmatched_with_email(self, account_id: int, email: str) -> Sequence[Purchase]:
        rows = self._c.execute(
            select(t.purchases).where(
                t.purchases.c.user_id == account_id,
                t.purchases.c.email == email,
                t.purchases.c.attribution_status == AttributionStatus.UNMATCHED.value,
            )
        )
        return [self._purchase(row) for row in rows]

    def add_refund(self, purchase_id: int, refund: RefundRecord) -> bool:
        values = {
            "purchase_id": purchase_id,
            "platform_refund_id": refund.platform_refund_id,
            "amount": refund.amount.amount,
            "refunded_at": refund.refunded_at,
        }
        stored = insert_ignoring_duplicates(self._c, t.refunds, values, ["purchase_id", "platform_refund_id"])
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
