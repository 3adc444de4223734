"""Repositories: domain objects in, domain objects out; rows never leave this module."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, literal, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence import tables as t
from adapters.persistence.revenue_lines import refresh_revenue_lines
from adapters.persistence.visitor_counts import forget_visitor_counts, store_changes
from core.domain.attribution import DEFAULT_LOOKBACK, Credit, Model
from core.domain.checkout import CheckoutReach
from core.domain.connections import Connection as PlatformConnection
from core.domain.connections import ConnectionStatus, StoredDelivery, SyncState
from core.domain.delivery_privacy import erase_from_body, erase_from_text, mentions
from core.domain.display import DisplaySettings
from core.domain.events import EventKind, InboundEvent, TrackerEvent
from core.domain.identities import EmailClaim, Handoff, IdentityTouch
from core.domain.money import Money
from core.domain.onboarding import OnboardingProgress
from core.domain.purchases import AttributionStatus, MatchMethod, Purchase, RefundRecord, UnmatchedReason
from core.domain.sites import Account, Site
from core.domain.source_rules import SourceRule
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
    "utm_source",
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

    @staticmethod
    def _values(account: Account) -> dict[str, Any]:
        return {
            "email": account.email,
            "password_hash": account.password_hash,
            "email_verified_at": account.email_verified_at,
            "trial_ends_at": account.trial_ends_at,
            "session_version": account.session_version,
            "operator_since": account.operator_since,
        }

    def add(self, account: Account) -> Account:
        account.id = self._c.execute(
            insert(t.users).values(created_at=account.created_at, **self._values(account)).returning(t.users.c.id)
        ).scalar_one()
        return account

    def _one(self, where: Any) -> Account | None:
        u = t.users.c
        row = self._c.execute(
            select(
                u.id,
                u.email,
                u.created_at,
                u.password_hash,
                u.email_verified_at,
                u.trial_ends_at,
                u.session_version,
                u.operator_since,
            ).where(where)
        ).first()
        if row is None:
            return None
        return Account(
            id=row.id,
            email=row.email,
            created_at=row.created_at,
            password_hash=row.password_hash,
            email_verified_at=row.email_verified_at,
            trial_ends_at=row.trial_ends_at,
            session_version=row.session_version,
            operator_since=row.operator_since,
        )

    def update(self, account: Account) -> None:
        self._c.execute(update(t.users).where(t.users.c.id == account.id).values(**self._values(account)))

    def update_if_password_is(self, account: Account, password_hash: str | None) -> bool:
        # One statement: PostgreSQL re-checks the condition on the row a concurrent update committed, and
        # SQLite runs one writer at a time, so two uses of one reset link cannot both change the password.
        unchanged = (
            t.users.c.password_hash.is_(None) if password_hash is None else t.users.c.password_hash == password_hash
        )
        result = self._c.execute(
            update(t.users).where(t.users.c.id == account.id, unchanged).values(**self._values(account))
        )
        return bool(result.rowcount == 1)

    def delete(self, account_id: int) -> None:
        # Every table that refers to users does so ON DELETE CASCADE (SQLite runs with foreign_keys=ON).
        self._c.execute(delete(t.users).where(t.users.c.id == account_id))

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


class SqlIdentities:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add_claim(self, account_id: int, claim: EmailClaim) -> bool:
        values = {
            "user_id": account_id,
            "visitor_id": claim.visitor_id,
            "email": claim.email,
            "claimed_at": claim.claimed_at,
        }
        return insert_ignoring_duplicates(self._c, t.visitor_emails, values, ["visitor_id", "email", "claimed_at"])

    @staticmethod
    def _claims(rows: Any) -> list[EmailClaim]:
        return [EmailClaim(row.visitor_id, row.email, row.claimed_at) for row in rows]

    def claims_of(self, visitor_ids: Collection[int]) -> Sequence[EmailClaim]:
        if not visitor_ids:
            return []
        e = t.visitor_emails.c
        return self._claims(
            self._c.execute(select(e.visitor_id, e.email, e.claimed_at).where(e.visitor_id.in_(list(visitor_ids))))
        )

    def claims_with_email(self, account_id: int, emails: Collection[str]) -> Sequence[EmailClaim]:
        if not emails:
            return []
        e = t.visitor_emails.c
        query = select(e.visitor_id, e.email, e.claimed_at).where(e.user_id == account_id, e.email.in_(list(emails)))
        return self._claims(self._c.execute(query))

    def add_handoff(self, account_id: int, handoff: Handoff) -> bool:
        values = {
            "user_id": account_id,
            "from_visitor_id": handoff.from_visitor_id,
            "to_visitor_id": handoff.to_visitor_id,
            "handed_at": handoff.handed_at,
        }
        keys = ["from_visitor_id", "to_visitor_id", "handed_at"]
        return insert_ignoring_duplicates(self._c, t.visitor_handoffs, values, keys)

    def handoffs_of(self, visitor_ids: Collection[int]) -> Sequence[Handoff]:
        if not visitor_ids:
            return []
        h = t.visitor_handoffs.c
        ids = list(visitor_ids)
        rows = self._c.execute(
            select(h.from_visitor_id, h.to_visitor_id, h.handed_at).where(
                or_(h.from_visitor_id.in_(ids), h.to_visitor_id.in_(ids))
            )
        )
        return [Handoff(row.from_visitor_id, row.to_visitor_id, row.handed_at) for row in rows]

    def add_checkout_reach(self, account_id: int, reach: CheckoutReach) -> None:
        self._c.execute(
            insert(t.checkout_reaches).values(
                user_id=account_id,
                visitor_id=reach.visitor_id,
                fingerprint=reach.fingerprint,
                reached_at=reach.reached_at,
            )
        )

    @staticmethod
    def _reaches(rows: Any) -> list[CheckoutReach]:
        return [CheckoutReach(row.visitor_id, row.fingerprint, row.reached_at) for row in rows]

    def checkout_reaches(self, account_id: int, since: datetime, until: datetime) -> Sequence[CheckoutReach]:
        r = t.checkout_reaches.c
        query = select(r.visitor_id, r.fingerprint, r.reached_at).where(
            r.user_id == account_id, r.reached_at >= since, r.reached_at <= until
        )
        return self._reaches(self._c.execute(query))

    def checkout_reaches_of(self, visitor_ids: Collection[int]) -> Sequence[CheckoutReach]:
        if not visitor_ids:
            return []
        r = t.checkout_reaches.c
        query = select(r.visitor_id, r.fingerprint, r.reached_at).where(r.visitor_id.in_(list(visitor_ids)))
        return self._reaches(self._c.execute(query))

    def has_facts(self, visitor_id: int) -> bool:
        queries = (
            select(t.visitor_emails.c.id).where(t.visitor_emails.c.visitor_id == visitor_id),
            select(t.visitor_handoffs.c.id).where(
                or_(
                    t.visitor_handoffs.c.from_visitor_id == visitor_id, t.visitor_handoffs.c.to_visitor_id == visitor_id
                )
            ),
            select(t.checkout_reaches.c.id).where(t.checkout_reaches.c.visitor_id == visitor_id),
        )
        return any(self._c.execute(query.limit(1)).first() is not None for query in queries)


class SqlAttributionSettings:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def lookback(self, account_id: int) -> timedelta:
        days = self._c.execute(
            select(t.attribution_settings.c.lookback_days).where(t.attribution_settings.c.user_id == account_id)
        ).scalar_one_or_none()
        return DEFAULT_LOOKBACK if days is None else timedelta(days=days)

    def set_lookback(self, account_id: int, lookback: timedelta) -> None:
        self._c.execute(delete(t.attribution_settings).where(t.attribution_settings.c.user_id == account_id))
        self._c.execute(insert(t.attribution_settings).values(user_id=account_id, lookback_days=lookback.days))


class SqlDisplaySettings:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, account_id: int) -> DisplaySettings:
        d = t.display_settings.c
        row = self._c.execute(select(d.locale, d.time_zone, d.currency).where(d.user_id == account_id)).first()
        return DisplaySettings() if row is None else DisplaySettings(row.locale, row.time_zone, row.currency)

    def set(self, account_id: int, settings: DisplaySettings) -> None:
        self._c.execute(delete(t.display_settings).where(t.display_settings.c.user_id == account_id))
        self._c.execute(
            insert(t.display_settings).values(
                user_id=account_id, locale=settings.locale, time_zone=settings.time_zone, currency=settings.currency
            )
        )


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


class SqlSourceRules:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def for_account(self, account_id: int) -> list[SourceRule]:
        r = t.source_rules.c
        rows = self._c.execute(select(r.match, r.source, r.channel).where(r.user_id == account_id))
        return [SourceRule(match, source, Channel(channel) if channel else None) for match, source, channel in rows]

    def replace(self, account_id: int, rules: Sequence[SourceRule]) -> None:
        self._c.execute(delete(t.source_rules).where(t.source_rules.c.user_id == account_id))
        if rules:
            self._c.execute(
                insert(t.source_rules),
                [{"user_id": account_id, "match": r.match, "source": r.source, "channel": r.channel} for r in rules],
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


# Fields of TrackerEvent kept in the inbound table; the sender's address (client_address) never is.
_INBOUND_FIELDS = (
    "client_event_id",
    "visitor_key",
    "url",
    "referrer",
    "title",
    "email",
    "user_agent",
    "fingerprint",
    "handoff_from",
    "received_at",
)
# Any number: it only has to be the same for every processor, and not collide with other advisory locks.
_INBOUND_LOCK_NAMESPACE = 0x43534945


class SqlInboundEvents:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, site_id: int, event: TrackerEvent) -> int | None:
        i = t.inbound_events.c
        values = {name: getattr(event, name) for name in _INBOUND_FIELDS}
        values["kind"] = event.kind.value
        names = list(values)
        # INSERT ... SELECT from the site's row: the account comes from the database, and a site deleted since
        # the caller looked it up inserts nothing instead of breaking the foreign key.
        source = select(
            t.sites.c.id, t.sites.c.user_id, *(literal(values[name], i[name].type) for name in names)
        ).where(t.sites.c.id == site_id)
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(t.inbound_events)
            .from_select(["site_id", "user_id", *names], source)
            .on_conflict_do_nothing(index_elements=["site_id", "client_event_id"])
            .returning(i.id)
        )
        return self._c.execute(statement).scalar_one_or_none()

    def lock_account(self, account_id: int) -> None:
        # SQLite needs nothing: every write transaction begins IMMEDIATE, so writers run one at a time.
        if self._c.dialect.name == "postgresql":
            self._c.execute(
                text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                {"namespace": _INBOUND_LOCK_NAMESPACE, "key": account_id % 2**31},
            )

    @staticmethod
    def _inbound(row: Row[Any]) -> InboundEvent:
        m = row._mapping
        event = TrackerEvent(
            site_key=m["public_key"],
            kind=EventKind(m["kind"]),
            **{name: m[name] for name in _INBOUND_FIELDS},
        )
        return InboundEvent(
            id=m["id"], site_id=m["site_id"], account_id=m["user_id"], event=event, attempts=m["attempts"]
        )

    def pending(self, account_id: int, limit: int) -> Sequence[InboundEvent]:
        i = t.inbound_events.c
        rows = self._c.execute(
            select(t.inbound_events, t.sites.c.public_key)
            .join(t.sites, t.sites.c.id == i.site_id)
            .where(i.user_id == account_id, i.processed_at.is_(None))
            .order_by(i.id)
            .limit(limit)
        )
        return [self._inbound(row) for row in rows]

    def accounts_with_pending(self, limit: int) -> Sequence[int]:
        i = t.inbound_events.c
        rows = self._c.execute(select(i.user_id).where(i.processed_at.is_(None)).distinct().limit(limit))
        return sorted(rows.scalars())

    def mark_processed(self, outcomes: dict[int, str], processed_at: datetime) -> None:
        if not outcomes:
            return
        i = t.inbound_events.c
        by_outcome: dict[str, list[int]] = {}
        for event_id, outcome in outcomes.items():
            by_outcome.setdefault(outcome, []).append(event_id)
        for outcome, ids in sorted(by_outcome.items()):
            self._c.execute(
                update(t.inbound_events)
                .where(i.id.in_(ids), i.processed_at.is_(None))
                .values(processed_at=processed_at, outcome=outcome)
            )

    def note_failure(self, event_id: int, give_up_after: int, processed_at: datetime) -> None:
        i = t.inbound_events.c
        attempts = self._c.execute(
            update(t.inbound_events)
            .where(i.id == event_id, i.processed_at.is_(None))
            .values(attempts=i.attempts + 1)
            .returning(i.attempts)
        ).scalar_one_or_none()
        if attempts is not None and attempts >= give_up_after:
            self.mark_processed({event_id: "failed"}, processed_at)

    def backlog(self, limit: int) -> int:
        waiting = select(t.inbound_events.c.id).where(t.inbound_events.c.processed_at.is_(None)).limit(limit)
        return int(self._c.execute(select(func.count()).select_from(waiting.subquery())).scalar_one())

    def delete_of_person(self, account_id: int, visitor_keys: Collection[str], emails: Collection[str]) -> int:
        i = t.inbound_events.c
        keys, addresses = sorted(visitor_keys), sorted(emails)
        person = i.visitor_key.in_(keys) | i.handoff_from.in_(keys) | i.email.in_(addresses)
        result = self._c.execute(delete(t.inbound_events).where(i.user_id == account_id, person))
        return int(result.rowcount or 0)

    def delete_processed_before(self, moment: datetime) -> int:
        i = t.inbound_events.c
        result = self._c.execute(delete(t.inbound_events).where(i.processed_at < moment))
        return int(result.rowcount or 0)


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


class SqlOnboarding:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, account_id: int) -> OnboardingProgress | None:
        row = self._c.execute(select(t.onboarding).where(t.onboarding.c.user_id == account_id)).first()
        if row is None:
            return None
        return OnboardingProgress(
            account_id=row.user_id,
            platform=row.platform,
            synced_at=row.synced_at,
            purchases_imported=row.purchases_imported,
            completed_at=row.completed_at,
            connection_id=row.connection_id,
        )

    def save(self, progress: OnboardingProgress) -> None:
        values = {
            "platform": progress.platform,
            "synced_at": progress.synced_at,
            "purchases_imported": progress.purchases_imported,
            "completed_at": progress.completed_at,
            "connection_id": progress.connection_id,
        }
        changed = self._c.execute(
            update(t.onboarding).where(t.onboarding.c.user_id == progress.account_id).values(**values)
        ).rowcount
        if not changed:
            self._c.execute(insert(t.onboarding).values(user_id=progress.account_id, **values))


class SqlConnections:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def record_attempt(self, account_id: int, platform: str, attempted_at: datetime, error: str | None) -> None:
        self._c.execute(
            insert(t.connection_attempts).values(
                user_id=account_id, platform=platform, attempted_at=attempted_at, error=error
            )
        )

    @staticmethod
    def _connection(row: Row[Any]) -> PlatformConnection:
        return PlatformConnection(
            id=row.id,
            account_id=row.user_id,
            platform=row.platform,
            status=ConnectionStatus(row.status),
            created_at=row.created_at,
            sealed_credentials=bytes(row.encrypted_credentials) if row.encrypted_credentials is not None else None,
            external_account_id=row.external_account_id,
            external_account_name=row.external_account_name,
            webhook_ids=tuple(row.webhook_ids or ()),
            webhook_token_hash=row.webhook_token_hash,
            status_reason=row.status_reason,
            last_synced_at=row.last_synced_at,
            sync=SyncState(
                pages_done=row.sync_pages_done,
                purchases_found=row.sync_purchases_found,
                total=row.sync_total,
                started_at=row.sync_started_at,
                cursor=row.sync_cursor,
                heartbeat_at=row.sync_heartbeat_at,
            ),
            sync_error=row.sync_error,
            failing_since=row.failing_since,
            failure_emailed_at=row.failure_emailed_at,
        )

    @staticmethod
    def _values(connection: PlatformConnection) -> dict[str, Any]:
        return {
            "status": connection.status.value,
            "encrypted_credentials": connection.sealed_credentials,
            "external_account_id": connection.external_account_id,
            "external_account_name": connection.external_account_name,
            "webhook_ids": list(connection.webhook_ids),
            "webhook_token_hash": connection.webhook_token_hash,
            "status_reason": connection.status_reason,
            "last_synced_at": connection.last_synced_at,
            "sync_error": connection.sync_error,
            "failing_since": connection.failing_since,
            "failure_emailed_at": connection.failure_emailed_at,
            **SqlConnections._progress(connection.sync),
        }

    @staticmethod
    def _progress(progress: SyncState) -> dict[str, Any]:
        return {
            "sync_pages_done": progress.pages_done,
            "sync_purchases_found": progress.purchases_found,
            "sync_total": progress.total,
            "sync_started_at": progress.started_at,
            "sync_cursor": progress.cursor,
            "sync_heartbeat_at": progress.heartbeat_at,
        }

    def _where(self, *conditions: Any) -> list[PlatformConnection]:
        rows = self._c.execute(
            select(t.platform_integrations).where(*conditions).order_by(t.platform_integrations.c.id)
        )
        return [self._connection(row) for row in rows]

    def add(self, connection: PlatformConnection) -> PlatformConnection:
        connection.id = self._c.execute(
            insert(t.platform_integrations)
            .values(
                user_id=connection.account_id,
                platform=connection.platform,
                created_at=connection.created_at,
                **self._values(connection),
            )
            .returning(t.platform_integrations.c.id)
        ).scalar_one()
        return connection

    def get(self, connection_id: int) -> PlatformConnection | None:
        found = self._where(t.platform_integrations.c.id == connection_id)
        return found[0] if found else None

    def update(self, connection: PlatformConnection) -> None:
        self._c.execute(
            update(t.platform_integrations)
            .where(t.platform_integrations.c.id == connection.id)
            .values(**self._values(connection))
        )

    def record_sync_progress(self, connection_id: int, progress: SyncState) -> bool:
        c = t.platform_integrations.c
        changed = self._c.execute(
            update(t.platform_integrations)
            .where(
                c.id == connection_id,
                c.status == ConnectionStatus.SYNCING.value,
                c.sync_started_at == progress.started_at,
            )
            .values(**self._progress(progress))
        ).rowcount
        return bool(changed)

    def claim_sync(self, connection_id: int, started_at: datetime, now: datetime, stale_before: datetime) -> bool:
        c = t.platform_integrations.c
        changed = self._c.execute(
            update(t.platform_integrations)
            .where(
                c.id == connection_id,
                c.status == ConnectionStatus.SYNCING.value,
                c.sync_started_at == started_at,
                or_(c.sync_heartbeat_at.is_(None), c.sync_heartbeat_at < stale_before),
            )
            .values(sync_heartbeat_at=now)
        ).rowcount
        return bool(changed)

    def list_for_account(self, account_id: int) -> Sequence[PlatformConnection]:
        return self._where(t.platform_integrations.c.user_id == account_id)

    def live(self) -> Sequence[PlatformConnection]:
        return self._where(
            t.platform_integrations.c.status.in_([ConnectionStatus.SYNCING.value, ConnectionStatus.CONNECTED.value])
        )

    def with_credentials(self) -> Sequence[PlatformConnection]:
        return self._where(t.platform_integrations.c.encrypted_credentials.is_not(None))


class SqlWebhookDeliveries:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, delivery: StoredDelivery) -> StoredDelivery | None:
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(t.webhook_deliveries)
            .values(
                integration_id=delivery.connection_id,
                event_id=delivery.event_id,
                headers=delivery.headers,
                body=delivery.body,
                received_at=delivery.received_at,
            )
            .on_conflict_do_nothing(index_elements=["integration_id", "event_id"])
            .returning(t.webhook_deliveries.c.id)
        )
        delivery_id = self._c.execute(statement).scalar_one_or_none()
        return None if delivery_id is None else replace(delivery, id=delivery_id)

    @staticmethod
    def _delivery(row: Row[Any]) -> StoredDelivery:
        return StoredDelivery(
            id=row.id,
            connection_id=row.integration_id,
            event_id=row.event_id,
            body=bytes(row.body),
            headers=dict(row.headers),
            received_at=row.received_at,
            processed_at=row.processed_at,
            outcome=row.outcome,
            attempts=row.attempts,
            last_attempt_at=row.last_attempt_at,
            last_error=row.last_error,
            failed_at=row.failed_at,
        )

    def get(self, delivery_id: int) -> StoredDelivery | None:
        row = self._c.execute(select(t.webhook_deliveries).where(t.webhook_deliveries.c.id == delivery_id)).first()
        return None if row is None else self._delivery(row)

    def mark_processed(self, delivery_id: int, processed_at: datetime, outcome: str) -> bool:
        c = t.webhook_deliveries.c
        changed = self._c.execute(
            update(t.webhook_deliveries)
            .where(c.id == delivery_id, c.processed_at.is_(None))
            .values(processed_at=processed_at, outcome=outcome[:200], failed_at=None)
        ).rowcount
        return bool(changed)

    def record_attempt(self, delivery: StoredDelivery) -> None:
        self._c.execute(
            update(t.webhook_deliveries)
            .where(t.webhook_deliveries.c.id == delivery.id)
            .values(
                attempts=delivery.attempts,
                last_attempt_at=delivery.last_attempt_at,
                last_error=delivery.last_error[:500] if delivery.last_error else None,
                failed_at=delivery.failed_at,
            )
        )

    def unfinished(self, connection_id: int, limit: int) -> Sequence[StoredDelivery]:
        c = t.webhook_deliveries.c
        rows = self._c.execute(
            select(t.webhook_deliveries)
            .where(c.integration_id == connection_id, c.processed_at.is_(None), c.attempts > 0)
            .order_by(c.received_at.desc(), c.id.desc())
            .limit(limit)
        )
        return [self._delivery(row) for row in rows]

    def stalled(self, before: datetime, limit: int) -> Sequence[StoredDelivery]:
        c = t.webhook_deliveries.c
        rows = self._c.execute(
            select(t.webhook_deliveries)
            .where(
                c.processed_at.is_(None),
                c.failed_at.is_(None),
                func.coalesce(c.last_attempt_at, c.received_at) < before,
            )
            .order_by(c.id)
            .limit(limit)
        )
        return [self._delivery(row) for row in rows]

    def mentioning(self, account_id: int, needles: Collection[str], ids: Collection[str]) -> Sequence[int]:
        # Bodies are bytes (PostgreSQL's bytea has no case-insensitive search), so the account's deliveries
        # are read and searched here: a data subject request is rare, and a connection keeps a few thousand.
        d = t.webhook_deliveries.c
        rows = self._c.execute(
            select(d.id, d.body, d.headers, d.outcome)
            .select_from(
                t.webhook_deliveries.join(t.platform_integrations, t.platform_integrations.c.id == d.integration_id)
            )
            .where(t.platform_integrations.c.user_id == account_id)
            .order_by(d.id)
        ).all()
        return [
            row.id
            for row in rows
            if mentions(bytes(row.body), needles, ids)
            or mentions(json.dumps(row.headers).encode(), needles, ())
            or mentions(json.dumps(row.outcome or "").encode(), needles, ())
        ]

    def redact(self, delivery_ids: Collection[int], needles: Collection[str], replacement: str) -> int:
        d = t.webhook_deliveries.c
        rows = self._c.execute(select(d.id, d.body, d.headers, d.outcome).where(d.id.in_(sorted(delivery_ids)))).all()
        for row in rows:
            self._c.execute(
                update(t.webhook_deliveries)
                .where(d.id == row.id)
                .values(
                    body=erase_from_body(bytes(row.body), needles, replacement),
                    headers=json.loads(erase_from_text(json.dumps(row.headers), needles, replacement)),
                    outcome=erase_from_text(row.outcome, needles, replacement) if row.outcome is not None else None,
                )
            )
        return len(rows)
