"""The beta program's repository and the feature usage counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.persistence import tables as t
from core.domain.beta import BetaMember, FeedbackAnswer, SetupHelpRequest
from core.domain.feature_usage import FeatureTotal

_M = t.beta_members
_H = t.beta_setup_help
_F = t.beta_feedback
_U = t.feature_usage


def _member(row: RowMapping) -> BetaMember:
    return BetaMember(
        id=row["id"],
        email=row["email"],
        invited_at=row["invited_at"],
        account_id=row["user_id"],
        joined_at=row["joined_at"],
        feedback_prompt_closed_at=row["feedback_prompt_closed_at"],
        testimonial_consent_at=row["testimonial_consent_at"],
        testimonial_withdrawn_at=row["testimonial_withdrawn_at"],
    )


class SqlBeta:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _one(self, where: Any) -> BetaMember | None:
        row = self._c.execute(select(_M).where(where)).mappings().first()
        return None if row is None else _member(row)

    def get_by_email(self, email: str) -> BetaMember | None:
        return self._one(_M.c.email == email)

    def for_account(self, account_id: int) -> BetaMember | None:
        return self._one(_M.c.user_id == account_id)

    def save(self, member: BetaMember) -> BetaMember:
        values = {
            "email": member.email,
            "user_id": member.account_id,
            "invited_at": member.invited_at,
            "joined_at": member.joined_at,
            "feedback_prompt_closed_at": member.feedback_prompt_closed_at,
            "testimonial_consent_at": member.testimonial_consent_at,
            "testimonial_withdrawn_at": member.testimonial_withdrawn_at,
        }
        if member.id is None:
            member.id = self._c.execute(insert(_M).values(**values).returning(_M.c.id)).scalar_one()
        else:
            self._c.execute(update(_M).where(_M.c.id == member.id).values(**values))
        return member

    def members(self) -> Sequence[BetaMember]:
        rows = self._c.execute(select(_M).order_by(_M.c.invited_at.desc(), _M.c.id.desc())).mappings()
        return [_member(row) for row in rows]

    def add_setup_help(self, account_id: int, message: str, requested_at: datetime) -> int:
        statement = insert(_H).values(user_id=account_id, message=message, requested_at=requested_at)
        return int(self._c.execute(statement.returning(_H.c.id)).scalar_one())

    def _requests(self, *where: Any) -> list[SetupHelpRequest]:
        statement = (
            select(_H, t.users.c.email)
            .join(t.users, t.users.c.id == _H.c.user_id)
            .where(*where)
            .order_by(_H.c.closed_at.is_not(None), _H.c.requested_at.desc(), _H.c.id.desc())
        )
        return [
            SetupHelpRequest(
                id=row.id,
                account_id=row.user_id,
                email=row.email,
                message=row.message,
                requested_at=row.requested_at,
                closed_at=row.closed_at,
            )
            for row in self._c.execute(statement)
        ]

    def open_setup_help(self, account_id: int) -> SetupHelpRequest | None:
        found = self._requests(_H.c.user_id == account_id, _H.c.closed_at.is_(None))
        return found[0] if found else None

    def setup_help_requests(self) -> Sequence[SetupHelpRequest]:
        return self._requests()

    def close_setup_help(self, request_id: int, closed_at: datetime) -> bool:
        statement = update(_H).where(_H.c.id == request_id, _H.c.closed_at.is_(None)).values(closed_at=closed_at)
        return self._c.execute(statement.returning(_H.c.id)).first() is not None

    def add_feedback(self, account_id: int, confusing: str, missing_report: str, submitted_at: datetime) -> None:
        self._c.execute(
            insert(_F).values(
                user_id=account_id, confusing=confusing, missing_report=missing_report, submitted_at=submitted_at
            )
        )

    def feedback(self) -> Sequence[FeedbackAnswer]:
        statement = (
            select(_F, t.users.c.email)
            .join(t.users, t.users.c.id == _F.c.user_id)
            .order_by(_F.c.submitted_at.desc(), _F.c.id.desc())
        )
        return [
            FeedbackAnswer(row.user_id, row.email, row.confusing, row.missing_report, row.submitted_at)
            for row in self._c.execute(statement)
        ]


class SqlFeatureUsage:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def count(self, account_id: int, day: date, feature: str) -> None:
        dialect = postgresql if self._c.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(_U).values(user_id=account_id, day=day, feature=feature, uses=1)
        self._c.execute(
            statement.on_conflict_do_update(
                index_elements=[_U.c.user_id, _U.c.day, _U.c.feature], set_={"uses": _U.c.uses + 1}
            )
        )

    def totals(self, since: date) -> Sequence[FeatureTotal]:
        uses = func.sum(_U.c.uses).label("uses")
        statement = (
            select(
                _U.c.feature,
                func.count(func.distinct(_U.c.user_id)).label("accounts"),
                uses,
                func.count().label("account_days"),
            )
            .where(_U.c.day >= since)
            .group_by(_U.c.feature)
            .order_by(uses.desc(), _U.c.feature)
        )
        return [
            FeatureTotal(row.feature, int(row.accounts), int(row.uses), int(row.account_days))
            for row in self._c.execute(statement)
        ]
