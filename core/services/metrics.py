"""The operator's use case: how the business is doing, computed from the app's own data.

Each figure's exact definition is in docs/metrics.md ("Business metrics"), and lives in core/domain/metrics.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from core.domain.beta import BetaFigures, beta_figures
from core.domain.feature_usage import FeatureTotal
from core.domain.metrics import (
    GOAL_CONNECTION_SUCCESS,
    GOAL_MONTHLY_CHURN,
    GOAL_PAID_ACCOUNTS,
    GOAL_SCRIPT_WITHIN_24H,
    GOAL_TRIAL_TO_PAID,
    AccountLine,
    ChurnMonth,
    Cohort,
    DayCount,
    FailedDeliveries,
    Goal,
    PlatformConnections,
    account_lines,
    accounts_by_state,
    connections_by_platform,
    ever_charged,
    median_hours_to_first_sale,
    monthly_churn,
    paid_accounts,
    per_day,
    ratio,
    script_within_24h,
    trial_to_paid,
)
from core.domain.money import Money
from core.domain.subscriptions import PLAN_PRICE
from core.ports.clock import Clock
from core.ports.metrics import MetricsQueries
from core.ports.uow import UnitOfWork

DEFAULT_DAYS = 90  # without --since: the last 90 days, today included


@dataclass(frozen=True, slots=True)
class MetricsReport:
    as_of: datetime
    since: date
    accounts: list[AccountLine]
    accounts_by_state: dict[str, int]
    paid_accounts: int
    mrr: Money
    cohorts: list[Cohort]
    churn: list[ChurnMonth]
    script_within_24h: int
    script_accounts: int
    connections: list[PlatformConnections]
    median_hours_to_first_sale: float | None
    days: list[DayCount]
    failed_deliveries: FailedDeliveries
    beta: BetaFigures
    feature_usage: list[FeatureTotal]

    @property
    def trial_to_paid_rate(self) -> float | None:
        return ratio(sum(c.paid for c in self.cohorts), sum(c.trials for c in self.cohorts))

    @property
    def script_rate(self) -> float | None:
        return ratio(self.script_within_24h, self.script_accounts)

    @property
    def latest_churn(self) -> float | None:
        """The last whole month's churn (the current month is not over)."""
        whole = [m for m in self.churn if m.month != f"{self.as_of.year:04d}-{self.as_of.month:02d}"]
        return whole[-1].rate if whole else None

    @property
    def connection_rate(self) -> float | None:
        return ratio(sum(p.succeeded for p in self.connections), sum(p.attempts for p in self.connections))

    @property
    def first_try_rate(self) -> float | None:
        return ratio(sum(p.first_try_succeeded for p in self.connections), sum(p.first_tries for p in self.connections))

    def as_dict(self) -> dict[str, object]:
        """What `coursesignal metrics --json` prints: rates are fractions (0.25 is 25%), money in minor units."""

        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "as_of": self.as_of.isoformat(),
            "since": self.since.isoformat(),
            "accounts_by_state": self.accounts_by_state,
            "paid_accounts": self.paid_accounts,
            "mrr": {"amount": self.mrr.amount, "currency": self.mrr.currency},
            "trial_to_paid": {
                "rate": rounded(self.trial_to_paid_rate),
                "cohorts": [
                    {"month": c.month, "trials": c.trials, "paid": c.paid, "rate": rounded(c.rate)}
                    for c in self.cohorts
                ],
            },
            "monthly_churn": [
                {"month": m.month, "paying_at_start": m.paying_at_start, "churned": m.churned, "rate": rounded(m.rate)}
                for m in self.churn
            ],
            "script_within_24h": {
                "accounts": self.script_accounts,
                "within_24h": self.script_within_24h,
                "rate": rounded(self.script_rate),
            },
            "connections": {
                "rate": rounded(self.connection_rate),
                "first_try_rate": rounded(self.first_try_rate),
                "platforms": [
                    {
                        "platform": p.platform,
                        "attempts": p.attempts,
                        "succeeded": p.succeeded,
                        "rate": rounded(p.overall_rate),
                        "first_tries": p.first_tries,
                        "first_try_succeeded": p.first_try_succeeded,
                        "first_try_rate": rounded(p.first_try_rate),
                        "common_errors": [{"error": e, "count": n} for e, n in p.common_errors],
                    }
                    for p in self.connections
                ],
            },
            "median_hours_to_first_attributed_purchase": rounded(self.median_hours_to_first_sale),
            "per_day": [{"day": d.day.isoformat(), "events": d.events, "purchases": d.purchases} for d in self.days],
            "failed_deliveries": {
                "waiting": self.failed_deliveries.waiting,
                "accounts": self.failed_deliveries.accounts,
                "since": self.failed_deliveries.since,
            },
            "beta": {
                "invited": self.beta.invited,
                "joined": self.beta.joined,
                "paid": self.beta.paid,
                "paid_rate": rounded(self.beta.paid_rate),
                "setup_help": {"open": self.beta.setup_help_open, "closed": self.beta.setup_help_closed},
                "feedback": {"answers": self.beta.feedback_answers, "accounts": self.beta.feedback_accounts},
                "testimonial_consents": self.beta.testimonial_consents,
            },
            "feature_usage": [
                {"feature": f.feature, "accounts": f.accounts, "uses": f.uses, "account_days": f.account_days}
                for f in self.feature_usage
            ],
            "goals": [
                {
                    "goal": name,
                    "value": value if isinstance(value, int) else rounded(value),
                    "target": goal.target,
                    "below": goal.below,
                    "met": goal.met(value),
                }
                for name, value, goal in self.goals()
            ],
        }

    def goals(self) -> list[tuple[str, float | int | None, Goal]]:
        """Each goal of the product spec with today's figure (None: nothing to measure yet)."""
        return [
            ("Paid accounts", self.paid_accounts, Goal(GOAL_PAID_ACCOUNTS)),
            ("Monthly churn (last whole month)", self.latest_churn, Goal(GOAL_MONTHLY_CHURN, below=True)),
            ("Trial to paid", self.trial_to_paid_rate, Goal(GOAL_TRIAL_TO_PAID)),
            ("Script within 24 hours", self.script_rate, Goal(GOAL_SCRIPT_WITHIN_24H)),
            ("Connections succeeding", self.connection_rate, Goal(GOAL_CONNECTION_SUCCESS)),
        ]


class Metrics:
    def __init__(self, queries: MetricsQueries, clock: Clock, uow: Callable[[], UnitOfWork]) -> None:
        self._queries = queries
        self._clock = clock
        self._uow = uow

    def report(self, since: date | None = None) -> MetricsReport:
        now = self._clock.now()
        first_day = since or (now - timedelta(days=DEFAULT_DAYS - 1)).date()
        start = datetime.combine(first_day, time(), tzinfo=UTC)
        every_account = self._queries.accounts()
        # The operators' own accounts are staff, not customers: listed, never counted.
        accounts = [a for a in every_account if a.operator_since is None]
        lines = account_lines(every_account, now)
        changes = self._queries.status_changes()
        quick, settled = script_within_24h(accounts, self._queries.first_events(), start, now)
        paid = paid_accounts(accounts)
        with self._uow() as uow:
            beta = beta_figures(
                uow.beta.members(),
                ever_charged(changes),
                uow.beta.setup_help_requests(),
                uow.beta.feedback(),
            )
            usage = list(uow.feature_usage.totals(first_day))
        return MetricsReport(
            as_of=now,
            since=first_day,
            accounts=lines,
            accounts_by_state=accounts_by_state([line for line in lines if not line.is_operator]),
            paid_accounts=paid,
            mrr=Money(PLAN_PRICE.amount * paid, PLAN_PRICE.currency),
            cohorts=trial_to_paid(accounts, changes, start),
            churn=monthly_churn(changes, start, now),
            script_within_24h=quick,
            script_accounts=settled,
            connections=connections_by_platform(self._queries.connection_attempts(), start),
            median_hours_to_first_sale=median_hours_to_first_sale(
                accounts, self._queries.first_attributed_sales(), start
            ),
            days=per_day(
                self._queries.events_per_day(start), self._queries.purchases_per_day(start), first_day, now.date()
            ),
            failed_deliveries=self._queries.failed_deliveries(start),
            beta=beta,
            feature_usage=usage,
        )
