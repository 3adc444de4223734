"""The operator's use case: how the business is doing, computed from the app's own data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain.metrics import AccountLine, account_lines, accounts_by_state
from core.ports.clock import Clock
from core.ports.metrics import MetricsQueries


@dataclass(frozen=True, slots=True)
class MetricsReport:
    as_of: datetime
    accounts: list[AccountLine]
    accounts_by_state: dict[str, int]


class Metrics:
    def __init__(self, queries: MetricsQueries, clock: Clock) -> None:
        self._queries = queries
        self._clock = clock

    def report(self) -> MetricsReport:
        now = self._clock.now()
        lines = account_lines(self._queries.accounts(), now)
        return MetricsReport(as_of=now, accounts=lines, accounts_by_state=accounts_by_state(lines))
