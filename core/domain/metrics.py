"""The business metrics the product spec sets goals for, as pure functions of plain facts.

docs/metrics.md gives each one's exact definition; the functions here are those definitions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from core.domain.subscriptions import BillingStatus, billing_state

# The four states the operator counts accounts in, from the app's own billing states.
STATE_OF = {
    BillingStatus.TRIAL_NOT_STARTED: "trialing",  # signed up, address not yet verified: the trial starts then
    BillingStatus.TRIALING: "trialing",
    BillingStatus.ACTIVE: "active",
    BillingStatus.ENDING: "active",  # still paid up until the period ends
    BillingStatus.PAST_DUE: "past_due",
    BillingStatus.TRIAL_EXPIRED: "canceled",
    BillingStatus.CANCELED: "canceled",
}
STATES = ("trialing", "active", "past_due", "canceled")


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """One account as the business metrics read it: plain facts, no judgement."""

    account_id: int
    email: str
    created_at: datetime
    email_verified_at: datetime | None
    trial_ends_at: datetime | None
    operator_since: datetime | None
    stripe_status: str | None
    cancel_at_period_end: bool
    current_period_end: datetime | None
    failed_payment_attempts: int
    next_payment_attempt: datetime | None


def billing_status_of(account: AccountFacts, now: datetime) -> BillingStatus:
    return billing_state(
        trial_ends_at=account.trial_ends_at,
        stripe_status=account.stripe_status,
        cancel_at_period_end=account.cancel_at_period_end,
        period_end=account.current_period_end,
        failed_payment_attempts=account.failed_payment_attempts,
        next_payment_attempt=account.next_payment_attempt,
        now=now,
    ).status


@dataclass(frozen=True, slots=True)
class AccountLine:
    account_id: int
    email: str
    signed_up_at: datetime
    status: BillingStatus
    state: str  # one of STATES
    is_operator: bool


def account_lines(accounts: list[AccountFacts], now: datetime) -> list[AccountLine]:
    lines = []
    for account in accounts:
        status = billing_status_of(account, now)
        lines.append(
            AccountLine(
                account_id=account.account_id,
                email=account.email,
                signed_up_at=account.created_at,
                status=status,
                state=STATE_OF[status],
                is_operator=account.operator_since is not None,
            )
        )
    return lines


def accounts_by_state(lines: list[AccountLine]) -> dict[str, int]:
    """Accounts in each of STATES (every state present, zero included)."""
    counted = Counter(line.state for line in lines)
    return {state: counted.get(state, 0) for state in STATES}
