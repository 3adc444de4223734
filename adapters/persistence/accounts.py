"""Repositories of an account and what belongs to it alone: the account, its API tokens, its onboarding
progress and its settings (attribution lookback, display, source rules)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from adapters.persistence import tables as t
from adapters.persistence.revenue_days import rebuild_revenue_days, stored_rules
from core.domain.attribution import DEFAULT_LOOKBACK
from core.domain.display import DisplaySettings
from core.domain.onboarding import OnboardingProgress
from core.domain.sites import Account
from core.domain.source_rules import SourceRule


class SqlAccounts:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    @staticmethod
    def _values(account: Account) -> dict[str, Any]:
        return {
            "email": account.email,
            "password_hash": account.password_hash,
            "email_verified_at": account.email_verified_at,
            "trial_ends_at": account.trial_ends_at,
            "session_version": account.session_version,
            "operator_since": account.operator_since,
        }

    def add(self, account: Account) -> Account:
        account.id = self._c.execute(
            insert(t.users).values(created_at=account.created_at, **self._values(account)).returning(t.users.c.id)
        ).scalar_one()
        return account

    def _one(self, where: Any) -> Account | None:
        u = t.users.c
        row = self._c.execute(
            select(
                u.id,
                u.email,
                u.created_at,
                u.password_hash,
                u.email_verified_at,
                u.trial_ends_at,
                u.session_version,
                u.operator_since,
            ).where(where)
        ).first()
        if row is None:
            return None
        return Account(
            id=row.id,
            email=row.email,
            created_at=row.created_at,
            password_hash=row.password_hash,
            email_verified_at=row.email_verified_at,
            trial_ends_at=row.trial_ends_at,
            session_version=row.session_version,
            operator_since=row.operator_since,
        )

    def update(self, account: Account) -> None:
        self._c.execute(update(t.users).where(t.users.c.id == account.id).values(**self._values(account)))

    def update_if_password_is(self, account: Account, password_hash: str | None) -> bool:
        # One statement: PostgreSQL re-checks the condition on the row a concurrent update committed, and
        # SQLite runs one writer at a time, so two uses of one reset link cannot both change the password.
        unchanged = (
            t.users.c.password_hash.is_(None) if password_hash is None else t.users.c.password_hash == password_hash
        )
        result = self._c.execute(
            update(t.users).where(t.users.c.id == account.id, unchanged).values(**self._values(account))
        )
        return bool(result.rowcount == 1)

    def delete(self, account_id: int) -> None:
        # Every table that refers to users does so ON DELETE CASCADE (SQLite runs with foreign_keys=ON).
        self._c.execute(delete(t.users).where(t.users.c.id == account_id))

    def get(self, account_id: int) -> Account | None:
        return self._one(t.users.c.id == account_id)

    def get_by_email(self, email: str) -> Account | None:
        return self._one(t.users.c.email == email)


class SqlApiTokens:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, account_id: int, token_hash: str, name: str, created_at: datetime) -> None:
        self._c.execute(
            insert(t.api_tokens).values(user_id=account_id, token_hash=token_hash, name=name, created_at=created_at)
        )

    def account_id_for(self, token_hash: str, used_at: datetime) -> int | None:
        account_id = self._c.execute(
            update(t.api_tokens)
            .where(t.api_tokens.c.token_hash == token_hash)
            .values(last_used_at=used_at)
            .returning(t.api_tokens.c.user_id)
        ).scalar_one_or_none()
        return int(account_id) if account_id is not None else None


class SqlOnboarding:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, account_id: int) -> OnboardingProgress | None:
        row = self._c.execute(select(t.onboarding).where(t.onboarding.c.user_id == account_id)).first()
        if row is None:
            return None
        return OnboardingProgress(
            account_id=row.user_id,
            platform=row.platform,
            synced_at=row.synced_at,
            purchases_imported=row.purchases_imported,
            completed_at=row.completed_at,
            connection_id=row.connection_id,
        )

    def save(self, progress: OnboardingProgress) -> None:
        values = {
            "platform": progress.platform,
            "synced_at": progress.synced_at,
            "purchases_imported": progress.purchases_imported,
            "completed_at": progress.completed_at,
            "connection_id": progress.connection_id,
        }
        changed = self._c.execute(
            update(t.onboarding).where(t.onboarding.c.user_id == progress.account_id).values(**values)
        ).rowcount
        if not changed:
            self._c.execute(insert(t.onboarding).values(user_id=progress.account_id, **values))


class SqlAttributionSettings:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def lookback(self, account_id: int) -> timedelta:
        days = self._c.execute(
            select(t.attribution_settings.c.lookback_days).where(t.attribution_settings.c.user_id == account_id)
        ).scalar_one_or_none()
        return DEFAULT_LOOKBACK if days is None else timedelta(days=days)

    def set_lookback(self, account_id: int, lookback: timedelta) -> None:
        self._c.execute(delete(t.attribution_settings).where(t.attribution_settings.c.user_id == account_id))
        self._c.execute(insert(t.attribution_settings).values(user_id=account_id, lookback_days=lookback.days))


class SqlDisplaySettings:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def get(self, account_id: int) -> DisplaySettings:
        d = t.display_settings.c
        row = self._c.execute(select(d.locale, d.time_zone, d.currency).where(d.user_id == account_id)).first()
        return DisplaySettings() if row is None else DisplaySettings(row.locale, row.time_zone, row.currency)

    def set(self, account_id: int, settings: DisplaySettings) -> None:
        self._c.execute(delete(t.display_settings).where(t.display_settings.c.user_id == account_id))
        self._c.execute(
            insert(t.display_settings).values(
                user_id=account_id, locale=settings.locale, time_zone=settings.time_zone, currency=settings.currency
            )
        )


class SqlSourceRules:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def for_account(self, account_id: int) -> list[SourceRule]:
        return stored_rules(self._c, account_id).get(account_id, [])

    def replace(self, account_id: int, rules: Sequence[SourceRule]) -> None:
        self._c.execute(delete(t.source_rules).where(t.source_rules.c.user_id == account_id))
        if rules:
            self._c.execute(
                insert(t.source_rules),
                [{"user_id": account_id, "match": r.match, "source": r.source, "channel": r.channel} for r in rules],
            )
        # The per-day revenue figures count each buyer once per source as shown: the names just changed.
        rebuild_revenue_days(self._c, account_id)
