"""Which referring hosts the operator is shown as unknown: today's lists decide, not the stored channel."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta

from core.domain.channels import Channel
from core.domain.reports import ReferrerHost
from core.services.reports import Reports
from tests.unit.fakes import FixedClock

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


class StoredReferrals:
    def __init__(self, hosts: list[ReferrerHost]) -> None:
        self.hosts = hosts
        self.asked_since: list[datetime | None] = []

    def reading(self) -> AbstractContextManager[None]:
        return nullcontext()

    def referral_hosts(self, account_id: int, *, since: datetime | None) -> list[ReferrerHost]:
        self.asked_since.append(since)
        return self.hosts


def test_hosts_todays_lists_name_are_left_out_unless_asked_for() -> None:
    stored = StoredReferrals(
        [
            ReferrerHost("blog.partner.org", 5, 4, NOW),
            # filed under Referral by an older list; today it is a podcast app
            ReferrerHost("podcasts.apple.com", 3, 3, NOW),
        ]
    )
    reports = Reports(stored, FixedClock(NOW))  # type: ignore[arg-type]
    unknown = reports.referral_hosts(1, 30)
    assert [(f.referrer.host, f.domain) for f in unknown] == [("blog.partner.org", "partner.org")]
    assert stored.asked_since == [NOW - timedelta(days=30)]
    everything = reports.referral_hosts(1, None, known_too=True)
    assert [(f.referrer.host, f.today.source, f.today.channel) for f in everything] == [
        ("blog.partner.org", "blog.partner.org", Channel.REFERRAL),
        ("podcasts.apple.com", "Apple Podcasts", Channel.PODCAST),
    ]
    assert stored.asked_since[-1] is None
