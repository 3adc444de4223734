"""Counting a creator's use of a dashboard view, export or drill-down, in the request that serves it."""

from __future__ import annotations

from dependency_injector.wiring import Provide, inject

from core.domain.feature_usage import Feature
from core.services.feature_usage import FeatureUsage


@inject
def count_use(account_id: int, feature: Feature, usage: FeatureUsage = Provide["services.feature_usage"]) -> None:
    """One more use today; first-party, per account, nothing about the account's visitors."""
    usage.count(account_id, feature)
