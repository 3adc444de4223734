"""The beta program's storage and the feature usage counts (opened by the unit of work)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from core.domain.beta import BetaMember, FeedbackAnswer, SetupHelpRequest
from core.domain.feature_usage import FeatureTotal


class BetaRepository(Protocol):
    def get_by_email(self, email: str) -> BetaMember | None: ...
    def for_account(self, account_id: int) -> BetaMember | None: ...
    def save(self, member: BetaMember) -> BetaMember:
        """Insert a new member (its id set) or store an existing one's fields."""
        ...

    def members(self) -> Sequence[BetaMember]:
        """Every member and waiting invitation, the newest invitation first."""
        ...

    def add_setup_help(self, account_id: int, message: str, requested_at: datetime) -> int: ...
    def open_setup_help(self, account_id: int) -> SetupHelpRequest | None:
        """The account's request still open, if it has one."""
        ...

    def setup_help_requests(self) -> Sequence[SetupHelpRequest]:
        """Every request, the open ones first, then the newest first."""
        ...

    def close_setup_help(self, request_id: int, closed_at: datetime) -> bool:
        """Close an open request; False when there is no such request or it was closed before."""
        ...

    def add_feedback(self, account_id: int, confusing: str, missing_report: str, submitted_at: datetime) -> None: ...
    def feedback(self) -> Sequence[FeedbackAnswer]:
        """Every feedback answer, the newest first."""
        ...


class FeatureUsageRepository(Protocol):
    def count(self, account_id: int, day: date, feature: str) -> None:
        """One more use of the feature by the account on the (UTC) day."""
        ...

    def totals(self, since: date) -> Sequence[FeatureTotal]:
        """Per feature from `since`: the accounts that used it and the uses, the most used first."""
        ...
