"""Which parts of the product creators use: first-party counts per account per day, nothing about visitors.

A use is one request that served the view, export or drill-down (docs/metrics.md, "Feature usage").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Feature(StrEnum):
    """What is counted: each dashboard view, export and drill-down a creator can open."""

    DASHBOARD = "dashboard"  # the overview, grouped by source
    DASHBOARD_BY_CHANNEL = "dashboard_by_channel"
    DASHBOARD_BY_CAMPAIGN = "dashboard_by_campaign"
    SOURCE_DRILL_DOWN = "source_drill_down"
    PURCHASE_DRILL_DOWN = "purchase_drill_down"
    PURCHASES_LIST = "purchases_list"
    SOURCES_CSV = "sources_csv"
    SOURCE_DETAIL_CSV = "source_detail_csv"


LABELS = {
    Feature.DASHBOARD: "Dashboard by source",
    Feature.DASHBOARD_BY_CHANNEL: "Dashboard by channel",
    Feature.DASHBOARD_BY_CAMPAIGN: "Dashboard by campaign",
    Feature.SOURCE_DRILL_DOWN: "Source drill-down",
    Feature.PURCHASE_DRILL_DOWN: "Purchase drill-down",
    Feature.PURCHASES_LIST: "Purchases list",
    Feature.SOURCES_CSV: "Sources CSV export",
    Feature.SOURCE_DETAIL_CSV: "Source drill-down CSV export",
}


def feature_label(name: str) -> str:
    """What the operator reads for a stored feature name (a name no longer counted reads as stored)."""
    return next((label for feature, label in LABELS.items() if feature.value == name), name)


@dataclass(frozen=True, slots=True)
class FeatureTotal:
    feature: str
    accounts: int  # distinct accounts that used it
    uses: int
    account_days: int  # (account, day) pairs with at least one use
