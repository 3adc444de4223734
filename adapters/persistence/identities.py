"""Identity facts: email claims, visitor handoffs and checkout reaches that tie visitors to buyers."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from adapters.persistence import tables as t
from adapters.persistence.rows import insert_ignoring_duplicates
from core.domain.checkout import CheckoutReach
from core.domain.identities import EmailClaim, Handoff


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
