"""With COURSESIGNAL_REDIS_URL set, rate-limit counters live in Redis, shared by every app process."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from redis import Redis

from tests.web_session import csrf_token

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_settings(settings, redis_url: str):  # type: ignore[no-untyped-def]
    return replace(settings, redis_url=redis_url)


def test_login_limits_are_counted_in_redis_across_app_instances(redis_settings, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app, create_container

    queue_name = f"test-{uuid.uuid4().hex[:10]}"  # our own key prefix: never touch keys we did not make
    redis = Redis.from_url(redis_url)
    containers = [create_container(redis_settings, queue_name=queue_name) for _ in range(2)]
    try:
        first, second = (build_app(redis_settings, c).test_client() for c in containers)
        token = csrf_token(first, "/login")
        data = {"csrf_token": token, "email": "a@example.com", "password": "wrong password!"}
        assert [first.post("/login", data=data).status_code for _ in range(10)] == [200] * 10
        assert redis.keys(f"*{queue_name}-limits*"), "the counters are not in Redis"
        other = {"csrf_token": csrf_token(second, "/login"), **{k: v for k, v in data.items() if k != "csrf_token"}}
        assert second.post("/login", data=other).status_code == 429  # the second "process" sees the same count
    finally:
        for key in redis.scan_iter(f"*{queue_name}*"):
            redis.delete(key)
        for container in containers:
            container.unwire()
            container.gateways.engine().dispose()
