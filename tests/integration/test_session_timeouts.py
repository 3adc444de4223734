"""Session cookies: HttpOnly, SameSite=Lax, Secure in production; idle and absolute timeouts enforced by the
server on the clock port, whatever the browser keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from dependency_injector import providers

from tests.unit.fakes import FixedClock
from tests.web_session import PASSWORD, post_form, sign_up_and_verify

ADDRESS = "sleepy@example.com"


@pytest.fixture
def clock(container) -> FixedClock:  # type: ignore[no-untyped-def]
    clock = FixedClock()
    container.gateways.clock.override(providers.Object(clock))
    return clock


@pytest.fixture
def signed_up(app, settings, clock):  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_up_and_verify(client, settings.outbox_path, ADDRESS)
    post_form(client, "/logout", {}, form_page="/account")
    return client


def _signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    response = client.get("/account")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def _log_in(client, remember: bool = False):  # type: ignore[no-untyped-def]
    data = {"email": ADDRESS, "password": PASSWORD, **({"remember": "y"} if remember else {})}
    response = post_form(client, "/login", data)
    assert response.status_code == 302
    return response


def test_a_session_ends_after_the_idle_timeout_and_activity_keeps_it_alive(signed_up, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    _log_in(signed_up)
    for _ in range(4):  # a request every 11 hours: never idle for 12
        clock.advance(hours=11)
        assert _signed_in(signed_up)
    clock.advance(hours=12, minutes=1)
    response = signed_up.get("/account")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    assert "without activity" in signed_up.get("/login").text
    assert not _signed_in(signed_up)


def test_keep_me_signed_in_has_no_idle_timeout_but_the_absolute_one(signed_up, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    _log_in(signed_up, remember=True)
    clock.advance(days=3)
    assert _signed_in(signed_up)
    clock.advance(days=26, hours=23)
    assert _signed_in(signed_up)
    clock.advance(days=1, hours=1)  # 30 days and a bit after signing in
    assert not _signed_in(signed_up)


def test_the_absolute_timeout_holds_for_a_remember_cookie_alone(app, signed_up, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    _log_in(signed_up, remember=True)
    remember = signed_up.get_cookie("remember_token").value

    def browser_restarted():  # type: ignore[no-untyped-def]
        fresh = app.test_client()
        fresh.set_cookie("remember_token", remember)
        return fresh

    clock.advance(days=29)
    assert _signed_in(browser_restarted())
    clock.advance(days=1, minutes=1)
    assert not _signed_in(browser_restarted())


def test_an_active_session_still_ends_at_the_absolute_timeout(app, signed_up, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    app.config["SESSION_ABSOLUTE_TIMEOUT"] = timedelta(hours=30)
    _log_in(signed_up)
    for _ in range(2):
        clock.advance(hours=10)
        assert _signed_in(signed_up)
    clock.advance(hours=10, minutes=1)
    assert not _signed_in(signed_up)


def test_a_session_id_without_its_sign_in_time_is_not_accepted(app, container, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    account = accounts.ensure_account(ADDRESS)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{account.id}:{account.session_version}"
    assert not _signed_in(client)


def test_session_and_remember_cookies_are_httponly_lax_and_not_secure_over_plain_http(signed_up) -> None:  # type: ignore[no-untyped-def]
    response = _log_in(signed_up, remember=True)
    cookies = {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}
    for name in ("session", "remember_token"):
        assert "HttpOnly" in cookies[name]
        assert "SameSite=Lax" in cookies[name]
        assert "Secure" not in cookies[name]


def test_production_cookies_are_secure(settings, container) -> None:  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app

    production = replace(settings, environment="production", secret_key="p" * 48)
    app = build_app(production, container)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    client = app.test_client()
    response = client.get("/login", base_url="https://coursesignal.test")
    (cookie,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_the_timeouts_come_from_the_settings(settings, container) -> None:  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app

    app = build_app(
        replace(settings, session_idle_timeout_seconds=600, session_absolute_timeout_seconds=7200), container
    )
    assert app.config["SESSION_IDLE_TIMEOUT"] == timedelta(minutes=10)
    assert app.config["SESSION_ABSOLUTE_TIMEOUT"] == timedelta(hours=2)
    assert app.config["REMEMBER_COOKIE_DURATION"] == timedelta(hours=2)
