"""Liveness and readiness."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, jsonify
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from adapters.persistence import tables as t
from core.ports.clock import Clock

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)

OK = "ok"
# Serving, but a part is behind or missing: not a reason to take the instance out of rotation.
DEGRADED = "degraded"
UNAVAILABLE = "unavailable"

# Accepted tracker events normally wait well under a second; this long means no job is processing them.
BACKLOG_LATE_SECONDS = 60
BACKLOG_COUNT_LIMIT = 100_000


class Readiness:
    """Checks each dependency the app needs to serve requests, each with a status.

    Only the database makes the instance unready: without Redis the collect endpoint still stores events
    (they wait in the database until Redis and the workers are back), so taking every web instance out of
    rotation then would turn a delay into an outage.
    """

    def __init__(self, engine: Engine, redis: Redis | None, clock: Clock) -> None:
        self._engine = engine
        self._redis = redis
        self._clock = clock

    def check(self) -> dict[str, dict[str, Any]]:
        checks: dict[str, dict[str, Any]] = {}
        pending = None
        try:
            with self._engine.connect() as connection:
                waiting = select(t.inbound_events.c.id).where(t.inbound_events.c.processed_at.is_(None))
                count = connection.execute(
                    select(func.count()).select_from(waiting.limit(BACKLOG_COUNT_LIMIT).subquery())
                ).scalar_one()
                oldest = connection.execute(
                    select(func.min(t.inbound_events.c.received_at)).where(t.inbound_events.c.processed_at.is_(None))
                ).scalar_one()
            checks["database"] = {"status": OK}
            pending = (int(count), oldest)
        except SQLAlchemyError:
            log.exception("readiness: database unreachable")
            checks["database"] = {"status": UNAVAILABLE}
        if self._redis is not None:
            try:
                self._redis.ping()
                checks["redis"] = {"status": OK}
            except RedisError:
                log.exception("readiness: redis unreachable")
                checks["redis"] = {"status": DEGRADED, "detail": "unreachable; tracker events wait in the database"}
        if pending is not None:
            checks["tracker_backlog"] = self._backlog(*pending)
        return checks

    def _backlog(self, waiting: int, oldest: datetime | None) -> dict[str, Any]:
        age = max(0.0, (self._clock.now() - oldest).total_seconds()) if oldest is not None else 0.0
        return {
            "status": DEGRADED if age > BACKLOG_LATE_SECONDS else OK,
            "waiting": waiting,
            "oldest_seconds": round(age, 1),
        }


@blueprint.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@blueprint.get("/readyz")
@inject
def readyz(readiness: Readiness = Provide["gateways.readiness"]) -> Any:
    checks = readiness.check()
    ready = checks["database"]["status"] != UNAVAILABLE
    degraded = any(check["status"] != OK for check in checks.values())
    status = UNAVAILABLE if not ready else DEGRADED if degraded else OK
    return jsonify(status=status, checks=checks), 200 if ready else 503
