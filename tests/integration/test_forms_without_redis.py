"""The sign-in forms keep answering when the Redis behind their rate limits is down or frozen: the limits are
counted in the process's memory meanwhile (the same limits, per instance), never a 500 and never a long wait.

Neither outage touches the machine's shared Redis: "down" is a port nobody listens on, "frozen" a socket that
takes connections and never answers, as a Redis stopped with SIGSTOP does.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.web_session import csrf_token

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# One request may wait for Redis once (its socket timeout) before the limiter counts in memory.
SLOWEST_ANSWER_SECONDS = 2.0


@pytest.fixture
def frozen_redis_url() -> Iterator[str]:
    """Connections are taken (by the kernel's backlog) and never answered."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        listener.close()


@pytest.fixture
def down_redis_url() -> str:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there any more: connections are refused
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture(params=["down", "frozen"])
def outage_client(request, settings):  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app, create_container

    url = request.getfixturevalue(f"{request.param}_redis_url")
    outage_settings = replace(settings, redis_url=url)
    container = create_container(outage_settings)
    app = build_app(outage_settings, container)
    yield app.test_client()
    container.unwire()
    container.gateways.engine().dispose()


def _timed_post(client, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    response = client.post(path, data={"csrf_token": csrf_token(client, path), **data})
    return response, time.monotonic() - started


def test_login_answers_and_still_limits_while_redis_is_out(outage_client) -> None:  # type: ignore[no-untyped-def]
    data = {"email": "someone@example.com", "password": "not the password"}
    answers = [_timed_post(outage_client, "/login", data) for _ in range(11)]
    assert [response.status_code for response, _ in answers] == [200] * 10 + [429]
    assert "do not match an account" in answers[0][0].get_data(as_text=True)
    assert max(seconds for _, seconds in answers) < SLOWEST_ANSWER_SECONDS


def test_signup_and_reset_answer_while_redis_is_out(outage_client) -> None:  # type: ignore[no-untyped-def]
    signup, signup_seconds = _timed_post(
        outage_client, "/signup", {"email": "new@example.com", "password": "correct horse battery staple"}
    )
    assert signup.status_code == 302
    assert signup.headers["Location"].endswith("/signup/check-inbox")
    reset, reset_seconds = _timed_post(outage_client, "/reset", {"email": "new@example.com"})
    assert reset.status_code == 302
    assert max(signup_seconds, reset_seconds) < SLOWEST_ANSWER_SECONDS
