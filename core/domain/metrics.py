"""The business metrics the product spec sets goals for, as pure functions of plain facts.

docs/metrics.md gives each one's exact definition; the functions here are those definitions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from statistics import median

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


# --- the goals the product spec sets --------------------------------------------------------------

GOAL_PAID_ACCOUNTS = 30  # paid accounts, six months after launch
GOAL_MONTHLY_CHURN = 0.05  # below
GOAL_TRIAL_TO_PAID = 0.25
GOAL_SCRIPT_WITHIN_24H = 0.70
GOAL_CONNECTION_SUCCESS = 0.90
SCRIPT_WINDOW = timedelta(hours=24)
# Stripe statuses: being charged every month (MRR, paid accounts), and a subscription that is over.
CHARGED = frozenset({"active", "past_due"})
ENDED = frozenset({"canceled", "unpaid", "incomplete_expired", "paused"})
TOP_ERRORS = 3


@dataclass(frozen=True, slots=True)
class StatusChange:
    account_id: int
    stripe_status: str
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectionAttempt:
    account_id: int
    platform: str
    attempted_at: datetime
    error: str | None  # None: the credentials were accepted


@dataclass(frozen=True, slots=True)
class Goal:
    target: float
    below: bool = False  # the figure must stay under the target (churn), not reach it

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value < self.target if self.below else value >= self.target


@dataclass(frozen=True, slots=True)
class Cohort:
    month: str  # YYYY-MM of signup, UTC
    trials: int
    paid: int

    @property
    def rate(self) -> float | None:
        return ratio(self.paid, self.trials)


@dataclass(frozen=True, slots=True)
class ChurnMonth:
    month: str
    paying_at_start: int
    churned: int

    @property
    def rate(self) -> float | None:
        return ratio(self.churned, self.paying_at_start)


@dataclass(frozen=True, slots=True)
class PlatformConnections:
    platform: str
    attempts: int
    succeeded: int
    first_tries: int
    first_try_succeeded: int
    common_errors: list[tuple[str, int]]

    @property
    def overall_rate(self) -> float | None:
        return ratio(self.succeeded, self.attempts)

    @property
    def first_try_rate(self) -> float | None:
        return ratio(self.first_try_succeeded, self.first_tries)


@dataclass(frozen=True, slots=True)
class FailedDeliveries:
    waiting: int  # dead letters not replayed yet
    accounts: int  # accounts those belong to
    since: int  # deliveries whose last attempt failed from the report's start


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    events: int
    purchases: int


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def month_starts(since: date, until: date) -> list[datetime]:
    """The first instant (UTC) of every calendar month from the one holding `since` to the one holding `until`."""
    starts = []
    year, month = since.year, since.month
    while (year, month) <= (until.year, until.month):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return starts


def paid_accounts(accounts: list[AccountFacts]) -> int:
    return sum(1 for account in accounts if account.stripe_status in CHARGED)


def ever_charged(changes: list[StatusChange]) -> set[int]:
    """The accounts ever charged: a Stripe status of "active" at least once."""
    return {c.account_id for c in changes if c.stripe_status == "active"}


def trial_to_paid(accounts: list[AccountFacts], changes: list[StatusChange], since: datetime) -> list[Cohort]:
    """Per signup month from `since`: accounts whose trial started, and those of them ever charged (a Stripe
    status of "active" at least once)."""
    ever_paid = ever_charged(changes)
    trials: Counter[str] = Counter()
    paid: Counter[str] = Counter()
    for account in accounts:
        if account.created_at < since or account.trial_ends_at is None:
            continue
        month = month_of(account.created_at)
        trials[month] += 1
        paid[month] += account.account_id in ever_paid
    return [Cohort(month, trials[month], paid[month]) for month in sorted(trials)]


def _status_at(changes: list[StatusChange], moment: datetime) -> str | None:
    current = None
    for change in changes:  # in time order
        if change.changed_at >= moment:
            break
        current = change.stripe_status
    return current


def monthly_churn(changes: list[StatusChange], since: datetime, now: datetime) -> list[ChurnMonth]:
    """Per calendar month from `since`'s to now's: accounts being charged at the month's first instant, and
    those of them whose subscription ended (a Stripe status in ENDED) before the next month began."""
    by_account: dict[int, list[StatusChange]] = {}
    for change in sorted(changes, key=lambda c: c.changed_at):
        by_account.setdefault(change.account_id, []).append(change)
    months = []
    for start in month_starts(since.date(), now.date()):
        end = month_starts((start + timedelta(days=32)).date(), (start + timedelta(days=32)).date())[0]
        paying = churned = 0
        for history in by_account.values():
            if _status_at(history, start) not in CHARGED:
                continue
            paying += 1
            churned += any(start <= c.changed_at < end and c.stripe_status in ENDED for c in history)
        months.append(ChurnMonth(month_of(start), paying, churned))
    return months


def script_within_24h(
    accounts: list[AccountFacts], first_events: dict[int, datetime], since: datetime, now: datetime
) -> tuple[int, int]:
    """(accounts with a first tracked event within 24 hours of signup, accounts signed up from `since` whose
    first 24 hours are over)."""
    settled = [a for a in accounts if a.created_at >= since and a.created_at + SCRIPT_WINDOW <= now]
    quick = sum(
        1
        for a in settled
        if a.account_id in first_events and first_events[a.account_id] <= a.created_at + SCRIPT_WINDOW
    )
    return quick, len(settled)


def connections_by_platform(attempts: list[ConnectionAttempt], since: datetime) -> list[PlatformConnections]:
    """Per platform, the attempts from `since`; an account's first try is its first attempt on that platform
    ever, counted when it falls from `since`."""
    first: dict[tuple[int, str], ConnectionAttempt] = {}
    for attempt in sorted(attempts, key=lambda a: a.attempted_at):
        first.setdefault((attempt.account_id, attempt.platform), attempt)
    lines = []
    for platform in sorted({a.platform for a in attempts}):
        recent = [a for a in attempts if a.platform == platform and a.attempted_at >= since]
        firsts = [a for (_, p), a in first.items() if p == platform and a.attempted_at >= since]
        errors = Counter(a.error for a in recent if a.error is not None)
        if not recent:
            continue
        lines.append(
            PlatformConnections(
                platform=platform,
                attempts=len(recent),
                succeeded=sum(1 for a in recent if a.error is None),
                first_tries=len(firsts),
                first_try_succeeded=sum(1 for a in firsts if a.error is None),
                common_errors=sorted(errors.items(), key=lambda e: (-e[1], e[0]))[:TOP_ERRORS],
            )
        )
    return lines


def median_hours_to_first_sale(
    accounts: list[AccountFacts], first_sales: dict[int, datetime], since: datetime
) -> float | None:
    """The median, over accounts signed up from `since` that have one, of the hours from signup to their
    first attributed purchase made after signup."""
    waits = sorted(
        (first_sales[a.account_id] - a.created_at) / timedelta(hours=1)
        for a in accounts
        if a.created_at >= since and a.account_id in first_sales
    )
    return median(waits) if waits else None


def per_day(events: dict[date, int], purchases: dict[date, int], since: date, until: date) -> list[DayCount]:
    days = []
    day = since
    while day <= until:
        days.append(DayCount(day, events.get(day, 0), purchases.get(day, 0)))
        day += timedelta(days=1)
    return days
