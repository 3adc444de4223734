"""The beta program: 60 days free instead of 14, setup help, a weekly feedback prompt, testimonial consent.

docs/beta.md describes it for operators; these are its rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.domain.sites import TRIAL_LENGTH

BETA_DAYS = 60
# The feedback prompt comes back this long after it was last answered or dismissed (or after joining).
FEEDBACK_EVERY = timedelta(days=7)
MAX_TEXT = 2000  # characters kept of a setup-help message or a feedback answer


@dataclass(slots=True)
class BetaMember:
    """An invited address and, once it joined, its account."""

    email: str
    invited_at: datetime
    account_id: int | None = None
    joined_at: datetime | None = None
    feedback_prompt_closed_at: datetime | None = None
    testimonial_consent_at: datetime | None = None  # None: no consent now
    testimonial_withdrawn_at: datetime | None = None  # the last withdrawal, kept beside a later consent
    id: int | None = None

    def join(self, account_id: int, now: datetime) -> None:
        if self.account_id is None:
            self.account_id = account_id
            self.joined_at = now

    def feedback_due(self, now: datetime) -> bool:
        """Whether the weekly prompt shows now: a week after joining, then a week after each answer or dismissal."""
        last = self.feedback_prompt_closed_at or self.joined_at
        return last is not None and now - last >= FEEDBACK_EVERY

    def close_feedback_prompt(self, now: datetime) -> None:
        self.feedback_prompt_closed_at = now

    def consent_to_testimonial(self, now: datetime) -> None:
        if self.testimonial_consent_at is None:
            self.testimonial_consent_at = now

    def withdraw_testimonial(self, now: datetime) -> None:
        if self.testimonial_consent_at is not None:
            self.testimonial_consent_at = None
            self.testimonial_withdrawn_at = now


def beta_trial_end(trial_started_at: datetime, current_end: datetime | None) -> datetime:
    """A member's free period: 60 days from the day the trial started, never shorter than the one it had."""
    end = trial_started_at + timedelta(days=BETA_DAYS)
    return end if current_end is None else max(end, current_end)


def trial_length(is_beta: bool) -> timedelta:
    return timedelta(days=BETA_DAYS) if is_beta else TRIAL_LENGTH


@dataclass(frozen=True, slots=True)
class SetupHelpRequest:
    id: int
    account_id: int
    email: str
    message: str
    requested_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class FeedbackAnswer:
    account_id: int
    email: str
    confusing: str
    missing_report: str
    submitted_at: datetime


def clean_text(value: str) -> str:
    """What is stored of a free-text answer: trimmed, at most MAX_TEXT characters."""
    return value.strip()[:MAX_TEXT]


@dataclass(frozen=True, slots=True)
class BetaFigures:
    """The beta program on the operator console and in `coursesignal metrics` (docs/metrics.md, "Beta")."""

    invited: int  # addresses in the beta, joined or not
    joined: int  # of them, with an account
    paid: int  # of the joined, those ever charged (a Stripe status of "active" at least once)
    setup_help_open: int
    setup_help_closed: int
    feedback_answers: int
    feedback_accounts: int  # members who answered at least once
    testimonial_consents: int  # consent given and not withdrawn

    @property
    def paid_rate(self) -> float | None:
        return self.paid / self.joined if self.joined else None


def beta_figures(
    members: Sequence[BetaMember],
    ever_paid: set[int],
    requests: Sequence[SetupHelpRequest],
    feedback: Sequence[FeedbackAnswer],
) -> BetaFigures:
    joined = {m.account_id for m in members if m.account_id is not None}
    return BetaFigures(
        invited=len(members),
        joined=len(joined),
        paid=len(joined & ever_paid),
        setup_help_open=sum(1 for r in requests if r.is_open),
        setup_help_closed=sum(1 for r in requests if not r.is_open),
        feedback_answers=len(feedback),
        feedback_accounts=len({f.account_id for f in feedback}),
        testimonial_consents=sum(1 for m in members if m.testimonial_consent_at is not None),
    )
