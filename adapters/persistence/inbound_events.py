"""The inbound queue: tracker events accepted by collect, waiting for the pipeline to process them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select, text, update

from adapters.persistence import tables as t
from core.domain.events import EventKind, InboundEvent, TrackerEvent

# Fields of TrackerEvent kept in the inbound table; the sender's address (client_address) never is.
INBOUND_FIELDS = (
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
    """Reading and settling the inbound queue; it is written by the inbox (adapters/persistence/inbox.py)."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

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
            **{name: m[name] for name in INBOUND_FIELDS},
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
