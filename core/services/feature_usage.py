"""Counting which dashboard views, exports and drill-downs creators use (docs/metrics.md, "Feature usage")."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from core.domain.feature_usage import Feature, FeatureTotal
from core.ports.clock import Clock
from core.ports.uow import UnitOfWork


class FeatureUsage:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def count(self, account_id: int, feature: Feature) -> None:
        """One use by the account today (UTC), in its own short transaction."""
        with self._uow() as uow:
            uow.feature_usage.count(account_id, self._clock.now().date(), feature.value)
            uow.commit()

    def totals(self, since: date) -> Sequence[FeatureTotal]:
        with self._uow() as uow:
            return uow.feature_usage.totals(since)
