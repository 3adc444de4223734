"""Liveness and readiness."""

from __future__ import annotations

import logging
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, jsonify
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)
blueprint = Blueprint("health", __name__)


class Readiness:
    """Checks each dependency the app needs to serve requests."""

    def __init__(self, engine: Engine, redis: Redis | None) -> None:
        self._engine = engine
        self._redis = redis

    def check(self) -> dict[str, str]:
        status = {}
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            status["database"] = "ok"
        except SQLAlchemyError:
            log.exception("readiness: database unreachable")
            status["database"] = "unreachable"
        if self._redis is not None:
            try:
                self._redis.ping()
                status["redis"] = "ok"
            except RedisError:
                log.exception("readiness: redis unreachable")
                status["redis"] = "unreachable"
        return status


@blueprint.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@blueprint.get("/readyz")
@inject
def readyz(readiness: Readiness = Provide["gateways.readiness"]) -> Any:
    checks = readiness.check()
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
