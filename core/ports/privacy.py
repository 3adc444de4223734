"""The read side of data subject requests: every stored row about a person or an account, as plain data."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol

# By table name, rows of JSON-ready values: times as ISO 8601 strings, binary values left out.
Rows = dict[str, list[dict[str, Any]]]


class PersonalDataReader(Protocol):
    def person_rows(
        self,
        account_id: int,
        visitor_ids: Collection[int],
        purchase_ids: Collection[int],
        delivery_ids: Collection[int] = (),
    ) -> Rows:
        """By table: the visitors' rows (visitors, sessions, events, email claims, hand-offs, checkout
        reaches, journey touches), the purchases' rows (purchases, refunds, credits, revenue lines) and the
        raw platform deliveries naming the person."""
        ...

    def account_rows(self, account_id: int) -> Rows:
        """By table: every row the account owns apart from its visitors' tracking rows, which are counted
        instead (see `tracking_counts`); secrets (password and token hashes, encrypted credentials) left out."""
        ...

    def tracking_counts(self, account_id: int) -> dict[str, int]:
        """How many visitor, session, event and identity rows the account holds, by table."""
        ...
