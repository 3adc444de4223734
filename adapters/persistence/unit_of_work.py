from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from adapters.persistence.accounts import (
    SqlAccounts,
    SqlApiTokens,
    SqlAttributionSettings,
    SqlDisplaySettings,
    SqlOnboarding,
    SqlSourceRules,
)
from adapters.persistence.beta import SqlBeta, SqlFeatureUsage
from adapters.persistence.billing import SqlBilling
from adapters.persistence.connections import SqlConnections, SqlWebhookDeliveries
from adapters.persistence.database import WRITE_TRANSACTION
from adapters.persistence.identities import SqlIdentities
from adapters.persistence.inbound_events import SqlInboundEvents
from adapters.persistence.purchases import SqlPurchases
from adapters.persistence.tracking import (
    SqlBotVisits,
    SqlEvents,
    SqlFingerprintSalts,
    SqlSessions,
    SqlSites,
    SqlVisitors,
)


class SqlUnitOfWork:
    """One database transaction: opened on `with`, committed only by an explicit `commit()`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("a unit of work is used once; ask the factory for a new one")
        self._connection = connection = self._engine.connect().execution_options(**{WRITE_TRANSACTION: True})
        self.accounts = SqlAccounts(connection)
        self.api_tokens = SqlApiTokens(connection)
        self.sites = SqlSites(connection)
        self.visitors = SqlVisitors(connection)
        self.sessions = SqlSessions(connection)
        self.events = SqlEvents(connection)
        self.inbound_events = SqlInboundEvents(connection)
        self.purchases = SqlPurchases(connection)
        self.onboarding = SqlOnboarding(connection)
        self.billing = SqlBilling(connection)
        self.connections = SqlConnections(connection)
        self.webhook_deliveries = SqlWebhookDeliveries(connection)
        self.identities = SqlIdentities(connection)
        self.attribution_settings = SqlAttributionSettings(connection)
        self.display_settings = SqlDisplaySettings(connection)
        self.fingerprint_salts = SqlFingerprintSalts(connection)
        self.source_rules = SqlSourceRules(connection)
        self.bot_visits = SqlBotVisits(connection)
        self.beta = SqlBeta(connection)
        self.feature_usage = SqlFeatureUsage(connection)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._connection is not None
        try:
            self._connection.rollback()
        finally:
            self._connection.close()

    def commit(self) -> None:
        assert self._connection is not None
        self._connection.commit()

    def rollback(self) -> None:
        assert self._connection is not None
        self._connection.rollback()
