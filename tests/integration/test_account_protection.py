"""Sign-in abuse and the headers that keep account data where it belongs, on SQLite and PostgreSQL.

- Guesses at one account spread over many addresses stop at the per-account limit, while its owner, on a
  browser that signed in to it before, still gets in.
- One reset link used twice at the same moment changes the password once.
- HSTS over HTTPS, `no-store` on JSON with personal data, `Allow` on a 405.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from dependency_injector import providers

from core.services.accounts import InvalidLink
from tests.web_session import PASSWORD, csrf_token, last_mail_to, links_in, post_form, sign_up_and_verify

ADDRESS = "creator@example.com"


def _from(app, address: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _guess(client, email: str, password: str = "a wrong guess!"):  # type: ignore[no-untyped-def]
    return client.post(
        "/login", data={"csrf_token": csrf_token(client, "/login"), "email": email, "password": password}
    )


def test_guesses_from_many_addresses_stop_at_the_account_limit(client, settings, app) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, ADDRESS)
    statuses = [_guess(_from(app, f"198.51.100.{n // 3}"), ADDRESS).status_code for n in range(18)]
    assert statuses[:10] == [200] * 10  # three guesses an address: no address is over its own limit
    assert set(statuses[10:]) == {429}
    locked = _guess(_from(app, "198.51.100.99"), ADDRESS, PASSWORD)
    assert locked.status_code == 429  # even the right password, from a new device
    assert "reset your password" in locked.get_data(as_text=True)
    assert _guess(_from(app, "198.51.100.99"), "someone.else@example.com").status_code == 200  # other accounts


def test_the_owner_on_a_known_device_is_never_locked_out(client, settings, app) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, ADDRESS)
    laptop = _from(app, "203.0.113.7")
    assert post_form(laptop, "/login", {"email": ADDRESS, "password": PASSWORD}).status_code == 302
    post_form(laptop, "/logout", {}, form_page="/dashboard")
    for n in range(12):
        _guess(_from(app, f"198.51.100.{n}"), ADDRESS)
    assert _guess(_from(app, "198.51.100.50"), ADDRESS, PASSWORD).status_code == 429
    signed_in = post_form(laptop, "/login", {"email": ADDRESS, "password": PASSWORD})
    assert signed_in.status_code == 302
    assert laptop.get("/dashboard").status_code == 200


def test_a_reset_link_used_twice_at_once_changes_the_password_once(container, settings) -> None:  # type: ignore[no-untyped-def]
    accounts = container.services.accounts()
    account = accounts.create_verified_account(ADDRESS, PASSWORD)
    accounts.request_password_reset(ADDRESS)
    token = links_in(last_mail_to(settings.outbox_path, ADDRESS))[0].rsplit("/", 1)[1]

    real = container.gateways.password_hasher()
    both_checked = threading.Barrier(2, timeout=10)

    class BothCheckedFirst:
        """Hashing the new password starts only once both requests have checked the link."""

        def hash(self, password: str) -> str:
            both_checked.wait()
            return real.hash(password)

        def verify(self, password_hash: str, password: str) -> bool:
            return real.verify(password_hash, password)

        def needs_rehash(self, password_hash: str) -> bool:
            return real.needs_rehash(password_hash)

    container.gateways.password_hasher.override(providers.Object(BothCheckedFirst()))
    container.services.accounts.reset()
    racing = container.services.accounts()
    outcomes: dict[str, str] = {}

    def use_link(password: str) -> None:
        try:
            racing.reset_password(token, password)
            outcomes[password] = "changed"
        except InvalidLink:
            outcomes[password] = "refused"

    threads = [threading.Thread(target=use_link, args=(p,)) for p in ("first new passphrase", "second new passphrase")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    container.gateways.password_hasher.reset_override()
    assert sorted(outcomes.values()) == ["changed", "refused"]
    winner = next(p for p, outcome in outcomes.items() if outcome == "changed")
    stored = accounts.get(account.id)
    assert real.verify(stored.password_hash, winner)
    assert stored.session_version == account.session_version + 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_hsts_only_over_https(settings) -> None:  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app, create_container

    for base_url, expected in [("https://coursesignal.example", "max-age=31536000"), ("http://localhost:8000", None)]:
        served = replace(settings, base_url=base_url)
        container = create_container(served)
        try:
            client = build_app(served, container).test_client()
            for path in ("/login", "/healthz", "/api/v1/reports/summary"):
                assert client.get(path).headers.get("Strict-Transport-Security") == expected, (base_url, path)
        finally:
            container.gateways.job_queue().stop()
            container.unwire()
            container.gateways.engine().dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_json_with_personal_data_is_never_cached(client, container) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import sign_in

    sign_in(client, container)
    for path in ("/api/v1/purchases", "/api/v1/reports/sources?range=30d", "/api/v1/reports/summary"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    assert "max-age=" in client.get("/t.js").headers["Cache-Control"]  # the tracker script stays cacheable


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_405_says_which_methods_are_allowed(client) -> None:  # type: ignore[no-untyped-def]
    for path, method, allowed in [("/login", "put", {"GET", "POST"}), ("/t/e", "get", {"POST"})]:
        response = getattr(client, method)(path)
        assert response.status_code == 405, path
        assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}, path
