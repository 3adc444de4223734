"""Liveness and readiness."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, jsonify
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from adapters.jobs.rq_scheduler import heartbeat_key
from adapters.persistence import tables as t
from adapters.web.contract import Answer, operation
from core.ports.clock import Clock
from core.services.connections import LOST_AFTER, attempt_due_at

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)

OK = "ok"
# Serving, but a part is behind or missing: not a reason to take the instance out of rotation.
DEGRADED = "degraded"
UNAVAILABLE = "unavailable"

# Accepted tracker events normally wait well under a second; this long means no job is processing them.
BACKLOG_LATE_SECONDS = 60
BACKLOG_COUNT_LIMIT = 100_000
# A queued job waiting this long means no worker is taking jobs.
QUEUE_LATE_SECONDS = 60
# Deliveries looked at for lateness (the oldest first).
DELIVERIES_CHECKED = 1000


class Readiness:
    """Checks each dependency the app needs to serve requests, each with a status.

    Only the database makes the instance unready: without Redis the collect endpoint still stores events
    (they wait in the database until Redis and the workers are back), so taking every web instance out of
    rotation then would turn a delay into an outage. Everything that makes work wait is `degraded`, with
    what waits: Redis unreachable, no scheduler heartbeat (no `coursesignal worker` moves retries and
    periodic runs), a queue nobody takes jobs from, tracker events or webhook deliveries overdue.
    """

    def __init__(self, engine: Engine, redis: Redis | None, clock: Clock, queue_name: str = "coursesignal") -> None:
        self._engine = engine
        self._redis = redis
        self._clock = clock
        self._queue_name = queue_name

    def check(self) -> dict[str, dict[str, Any]]:
        checks: dict[str, dict[str, Any]] = {}
        pending = None
        deliveries: list[Any] = []
        try:
            with self._engine.connect() as connection:
                waiting = select(t.inbound_events.c.id).where(t.inbound_events.c.processed_at.is_(None))
                count = connection.execute(
                    select(func.count()).select_from(waiting.limit(BACKLOG_COUNT_LIMIT).subquery())
                ).scalar_one()
                oldest = connection.execute(
                    select(func.min(t.inbound_events.c.received_at)).where(t.inbound_events.c.processed_at.is_(None))
                ).scalar_one()
                d = t.webhook_deliveries.c
                deliveries = list(
                    connection.execute(
                        select(d.attempts, d.last_attempt_at, d.received_at)
                        .where(d.processed_at.is_(None), d.failed_at.is_(None))
                        .order_by(d.id)
                        .limit(DELIVERIES_CHECKED)
                    )
                )
            checks["database"] = {"status": OK}
            pending = (int(count), oldest)
        except SQLAlchemyError:
            log.exception("readiness: database unreachable")
            checks["database"] = {"status": UNAVAILABLE}
        if self._redis is not None:
            checks.update(self._jobs(self._redis))
        if pending is not None:
            checks["tracker_backlog"] = self._backlog(*pending)
            checks["webhook_backlog"] = self._deliveries(deliveries)
        return checks

    def _jobs(self, redis: Redis) -> dict[str, dict[str, Any]]:
        """Redis, the scheduler's heartbeat and the queue, as `coursesignal worker` leaves them."""
        try:
            redis.ping()
            beat = redis.get(heartbeat_key(self._queue_name))
            queue = Queue(self._queue_name, connection=redis)
            waiting = queue.count
            first = queue.get_job_ids(0, 0)
            first_job = queue.fetch_job(first[0]) if first else None
        except RedisError:
            log.warning("readiness: redis unreachable", exc_info=True)
            return {"redis": {"status": DEGRADED, "detail": "unreachable; events and deliveries wait in the database"}}
        now = self._clock.now()
        checks: dict[str, dict[str, Any]] = {"redis": {"status": OK}}
        if beat is None:
            checks["scheduler"] = {
                "status": DEGRADED,
                "detail": "no coursesignal worker has scheduled for 30 s: retries and periodic jobs wait",
            }
        else:
            at = datetime.fromisoformat(beat.decode())
            checks["scheduler"] = {"status": OK, "last_beat_seconds": round(max(0.0, (now - at).total_seconds()), 1)}
        queued_at = first_job.enqueued_at if first_job is not None else None
        age = max(0.0, (now - queued_at.replace(tzinfo=UTC)).total_seconds()) if queued_at else 0.0
        checks["queue"] = {
            "status": DEGRADED if age > QUEUE_LATE_SECONDS else OK,
            "waiting": waiting,
            "oldest_seconds": round(age, 1),
        }
        return checks

    def _deliveries(self, rows: list[Any]) -> dict[str, Any]:
        """Accepted webhook deliveries whose attempt is overdue (their job was lost: the sweep re-queues them)."""
        now = self._clock.now()
        overdue = [now - due for due in (attempt_due_at(*row) for row in rows) if due + LOST_AFTER < now]
        return {
            "status": DEGRADED if overdue else OK,
            "waiting": len(rows),
            "overdue": len(overdue),
            "oldest_overdue_seconds": round(max(overdue).total_seconds(), 1) if overdue else 0.0,
        }

    def _backlog(self, waiting: int, oldest: datetime | None) -> dict[str, Any]:
        age = max(0.0, (self._clock.now() - oldest).total_seconds()) if oldest is not None else 0.0
        return {
            "status": DEGRADED if age > BACKLOG_LATE_SECONDS else OK,
            "waiting": waiting,
            "oldest_seconds": round(age, 1),
        }


@blueprint.get("/healthz")
@operation("The process is up", {200: Answer("Up.")})
def healthz() -> Any:
    return jsonify(status="ok")


@blueprint.get("/readyz")
@operation(
    "Database and, when configured, Redis, the scheduler and the queue; what waits",
    {200: Answer("Ready (possibly degraded: see checks)."), 503: Answer("The database is unreachable.")},
    description='JSON {"status": "ok"|"degraded"|"unavailable", "checks": {"database": {"status"}, '
    '"tracker_backlog": {"status", "waiting", "oldest_seconds"}, "webhook_backlog": {"status", "waiting", '
    '"overdue", "oldest_overdue_seconds"}, and with Redis: "redis": {"status"}, "scheduler": {"status", '
    '"last_beat_seconds"}, "queue": {"status", "waiting", "oldest_seconds"}}}. Each check\'s status is "ok", '
    '"degraded" (serving, but a part is behind or missing) or "unavailable". 503 only when the database is.',
)
@inject
def readyz(readiness: Readiness = Provide["gateways.readiness"]) -> Any:
    checks = readiness.check()
    ready = checks["database"]["status"] != UNAVAILABLE
    degraded = any(check["status"] != OK for check in checks.values())
    status = UNAVAILABLE if not ready else DEGRADED if degraded else OK
    return jsonify(status=status, checks=checks), 200 if ready else 503
