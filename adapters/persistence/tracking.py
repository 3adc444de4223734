"""Repositories of what the tracker brings: sites, visitors, sessions, events, bot visits, fingerprint salts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence import tables as t
from adapters.persistence.rows import insert_ignoring_duplicates, session_touch, touch_from, touch_values
from adapters.persistence.visitor_counts import forget_visitor_counts, store_changes
from core.domain.events import TrackerEvent
from core.domain.sites import Site
from core.domain.touches import Touch
from core.domain.visitor_counts import visitor_count_changes
from core.domain.visitors import Session, Visitor


class SqlSites:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    @staticmethod
    def _site(row: Row[Any]) -> Site:
        return Site(
            id=row.id,
            account_id=row.user_id,
            public_key=row.public_key,
            allowed_domains=tuple(row.allowed_domains),
            respect_gpc=bool(row.respect_gpc),
            checkout_paths=tuple(row.checkout_paths or ()),
        )

    def add(self, site: Site) -> Site:
        site.id = self._c.execute(
            insert(t.sites)
            .values(
                user_id=site.account_id,
                public_key=site.public_key,
                allowed_domains=list(site.allowed_domains),
                respect_gpc=site.respect_gpc,
                checkout_paths=list(site.checkout_paths) or None,
            )
            .returning(t.sites.c.id)
        ).scalar_one()
        return site

    def get_by_key(self, public_key: str) -> Site | None:
        row = self._c.execute(select(t.sites).where(t.sites.c.public_key == public_key)).first()
        return self._site(row) if row else None

    def list_for_account(self, account_id: int) -> Sequence[Site]:
        rows = self._c.execute(select(t.sites).where(t.sites.c.user_id == account_id).order_by(t.sites.c.id))
        return [self._site(row) for row in rows]

    def get_for_account(self, account_id: int, site_id: int) -> Site | None:
        row = self._c.execute(select(t.sites).where(t.sites.c.id == site_id, t.sites.c.user_id == account_id)).first()
        return self._site(row) if row else None

    def has_events(self, site_id: int) -> bool:
        # An accepted event counts before the pipeline has processed it: the snippet works.
        return any(
            self._c.execute(select(table.c.id).where(table.c.site_id == site_id).limit(1)).first() is not None
            for table in (t.inbound_events, t.events)
        )

    def update_settings(self, site: Site) -> None:
        self._c.execute(
            update(t.sites)
            .where(t.sites.c.id == site.id)
            .values(
                allowed_domains=list(site.allowed_domains),
                respect_gpc=site.respect_gpc,
                checkout_paths=list(site.checkout_paths) or None,
            )
        )


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

    def get_or_add(self, visitor: Visitor) -> tuple[Visitor, bool]:
        locked = (
            select(t.visitors)
            .where(t.visitors.c.site_id == visitor.site_id, t.visitors.c.visitor_key == visitor.key)
            .with_for_update()
        )
        row = self._c.execute(locked).first()
        added = False
        if row is None:  # a new visitor: most events are not, so this costs one query in the common case
            account_id = select(t.sites.c.user_id).where(t.sites.c.id == visitor.site_id).scalar_subquery()
            values = {
                "site_id": visitor.site_id,
                "user_id": account_id,
                "visitor_key": visitor.key,
                "first_seen_at": visitor.first_seen_at,
                **self._values(visitor),
            }
            added = insert_ignoring_duplicates(self._c, t.visitors, values, ["site_id", "visitor_key"])
            row = self._c.execute(locked).one()
        return self._visitor(row), added

    def update(self, visitor: Visitor) -> None:
        self._c.execute(update(t.visitors).where(t.visitors.c.id == visitor.id).values(**self._values(visitor)))

    def with_email(self, account_id: int, email: str) -> Sequence[Visitor]:
        return self._where(t.visitors.c.user_id == account_id, t.visitors.c.email == email)

    def with_key(self, account_id: int, key: str) -> Visitor | None:
        found = self._where(t.visitors.c.user_id == account_id, t.visitors.c.visitor_key == key)
        return found[0] if found else None

    def keys(self, visitor_ids: Collection[int]) -> dict[int, str]:
        if not visitor_ids:
            return {}
        rows = self._c.execute(
            select(t.visitors.c.id, t.visitors.c.visitor_key).where(t.visitors.c.id.in_(list(visitor_ids)))
        )
        return {row.id: row.visitor_key for row in rows}

    def delete(self, visitor_id: int) -> None:
        # The visitor leaves the reports' counts as if it had never come, then foreign keys cascade to
        # sessions, events, identity facts, reaches and journeys (SQLite has foreign_keys=ON); purchases
        # keep their row and lose the link.
        forget_visitor_counts(self._c, visitor_id)
        self._c.execute(delete(t.visitors).where(t.visitors.c.id == visitor_id))


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

    def touches_of(self, visitor_ids: Collection[int]) -> dict[int, list[Touch]]:
        found: dict[int, list[Touch]] = {v: [] for v in visitor_ids}
        if not visitor_ids:
            return found
        rows = self._c.execute(
            select(t.sessions)
            .where(t.sessions.c.visitor_id.in_(list(visitor_ids)))
            .order_by(t.sessions.c.started_at, t.sessions.c.id)
        )
        for row in rows:
            found[row.visitor_id].append(session_touch(row))
        return found


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

    def delete_older_than(self, moment: datetime, limit: int) -> int:
        # Site by site, so each lookup is a range of the (site_id, occurred_at) index, never a table scan.
        e = t.events.c
        ids: list[int] = []
        for site_id in self._c.execute(select(t.sites.c.id).order_by(t.sites.c.id)).scalars():
            old = select(e.id).where(e.site_id == site_id, e.occurred_at < moment).limit(limit - len(ids))
            ids += self._c.execute(old).scalars()
            if len(ids) >= limit:
                break
        if ids:
            self._c.execute(delete(t.events).where(e.id.in_(ids)))
        return len(ids)

    def stored_client_ids(self, site_ids: Collection[int], client_event_ids: Collection[str]) -> set[tuple[int, str]]:
        if not site_ids or not client_event_ids:
            return set()
        e = t.events.c
        rows = self._c.execute(
            select(e.site_id, e.client_event_id).where(
                e.site_id.in_(list(site_ids)), e.client_event_id.in_(list(client_event_ids))
            )
        )
        return {(row.site_id, row.client_event_id) for row in rows}


class SqlBotVisits:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, site_id: int, day: date) -> None:
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(t.bot_visits).values(site_id=site_id, day=day, visits=1)
        self._c.execute(
            statement.on_conflict_do_update(
                index_elements=["site_id", "day"], set_={"visits": t.bot_visits.c.visits + 1}
            )
        )


class SqlFingerprintSalts:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def for_day(self, day: datetime) -> bytes | None:
        salt = self._c.execute(
            select(t.fingerprint_salts.c.salt).where(t.fingerprint_salts.c.day == day)
        ).scalar_one_or_none()
        return bytes(salt) if salt is not None else None

    def add(self, day: datetime, salt: bytes) -> None:
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        self._c.execute(dialect.insert(t.fingerprint_salts).values(day=day, salt=salt).on_conflict_do_nothing())

    def delete_older_than(self, moment: datetime) -> int:
        result = self._c.execute(delete(t.fingerprint_salts).where(t.fingerprint_salts.c.day < moment))
        return int(result.rowcount or 0)
