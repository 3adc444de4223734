"""GET /readyz: each dependency with its status; only an unreachable database makes the instance unready."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from redis import Redis
from sqlalchemy import update

from adapters.clock import SystemClock
from adapters.jobs.rq_queue import connect_redis
from adapters.persistence import tables
from adapters.persistence.database import create_database_engine
from adapters.web.health import Readiness

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"}
# Nothing listens on port 1 of the loopback: connections are refused at once.
NOWHERE_REDIS = "redis://127.0.0.1:1/0"
NOWHERE_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"


def test_a_waiting_tracker_event_shows_in_the_backlog_and_degrades_when_late(client, container) -> None:  # type: ignore[no-untyped-def]
    from dependency_injector import providers

    from tests.unit.fakes import RecordingJobQueue

    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    site = accounts.add_site("creator@example.com", ["example.com"])
    # No job runs, not even the periodic sweeper: the event waits, as it does while Redis or the workers are down.
    container.gateways.job_queue().stop()
    container.gateways.job_queue.override(providers.Object(RecordingJobQueue()))
    container.services.tracking.reset()
    body = {"s": site.public_key, "n": "pageview", "i": "event0001", "v": "visitor01", "u": "https://example.com/"}
    assert client.post("/t/e", data=json.dumps(body), headers=BROWSER).status_code == 204

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"]["tracker_backlog"]["waiting"] == 1
    assert ready.json["checks"]["tracker_backlog"]["status"] == "ok"

    with container.gateways.engine().begin() as connection:
        connection.execute(update(tables.inbound_events).values(received_at=datetime.now(UTC) - timedelta(minutes=5)))
    late = client.get("/readyz")
    assert late.status_code == 200, "a late backlog is worth a look, not worth leaving the rotation"
    assert late.json["status"] == "degraded"
    assert late.json["checks"]["tracker_backlog"]["status"] == "degraded"
    assert late.json["checks"]["tracker_backlog"]["oldest_seconds"] >= 300

    assert container.services.tracking().sweep() == 1
    assert client.get("/readyz").json["status"] == "ok"
    container.gateways.job_queue.reset_override()
    container.services.tracking.reset()


def test_redis_down_degrades_but_keeps_the_instance_ready(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        checks = Readiness(engine, connect_redis(NOWHERE_REDIS), SystemClock()).check()
    finally:
        engine.dispose()
    assert checks["database"] == {"status": "ok"}
    assert checks["redis"]["status"] == "degraded"
    assert "wait in the database" in checks["redis"]["detail"]


def test_redis_reachable_is_ok(database_url: str, redis_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        checks = Readiness(engine, Redis.from_url(redis_url), SystemClock()).check()
    finally:
        engine.dispose()
    assert checks["redis"] == {"status": "ok"}


def test_the_database_down_makes_the_instance_unready(app, container) -> None:  # type: ignore[no-untyped-def]
    from dependency_injector import providers

    engine = create_database_engine(NOWHERE_POSTGRES)
    container.gateways.readiness.override(
        providers.Object(Readiness(engine, connect_redis(NOWHERE_REDIS), SystemClock()))
    )
    try:
        response = app.test_client().get("/readyz")
    finally:
        container.gateways.readiness.reset_override()
        engine.dispose()
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["checks"]["database"] == {"status": "unavailable"}
    assert response.json["checks"]["redis"]["status"] == "degraded"
    assert "tracker_backlog" not in response.json["checks"]
