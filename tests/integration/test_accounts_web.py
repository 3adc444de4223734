"""Accounts through the real web forms, on SQLite and PostgreSQL: signup to deletion, sessions, CSRF, limits."""

from __future__ import annotations

import re

from tests.web_session import (
    PASSWORD,
    csrf_token,
    last_mail_to,
    links_in,
    outbox_messages,
    path_of,
    post_form,
    sign_up_and_verify,
)

ADDRESS = "creator@example.com"


def test_signup_verify_lands_in_onboarding_with_the_trial_shown(client, settings) -> None:  # type: ignore[no-untyped-def]
    response = post_form(client, "/signup", {"email": ADDRESS, "password": PASSWORD})
    assert response.headers["Location"] == "/signup/check-inbox"
    assert "Check your inbox" in client.get("/signup/check-inbox").get_data(as_text=True)

    mail = last_mail_to(settings.outbox_path, ADDRESS)
    assert mail["Subject"] == "Confirm your email address for CourseSignal"
    verified = client.get(path_of(links_in(mail)[0]))
    assert verified.headers["Location"] == "/onboarding"
    page = client.get("/onboarding/platform").get_data(as_text=True)
    assert "14 days</strong> left in your free trial" in page
    assert "Step 1 of 5" in page

    again = client.get(path_of(links_in(mail)[0]))
    assert again.status_code == 400
    assert "already been used" in again.get_data(as_text=True)


def test_signup_with_a_taken_address_answers_the_same(client, settings, app) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, ADDRESS)
    stranger = app.test_client()
    response = post_form(stranger, "/signup", {"email": ADDRESS, "password": "some other passphrase"})
    assert response.headers["Location"] == "/signup/check-inbox"
    assert last_mail_to(settings.outbox_path, ADDRESS)["Subject"] == "Someone tried to sign up with your address"


def test_a_weak_password_is_explained_on_the_form(client, settings) -> None:  # type: ignore[no-untyped-def]
    response = post_form(client, "/signup", {"email": ADDRESS, "password": "password123"})
    assert response.status_code == 200
    assert "most common" in response.get_data(as_text=True)
    assert outbox_messages(settings.outbox_path) == []


def test_login_failures_read_the_same(client, settings, app) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, ADDRESS)
    other = app.test_client()
    unknown = post_form(other, "/login", {"email": "nobody@example.com", "password": PASSWORD}).get_data(as_text=True)
    wrong = post_form(other, "/login", {"email": ADDRESS, "password": "not my password"}).get_data(as_text=True)
    message = "That email and password do not match an account."
    assert message in unknown
    assert message in wrong


def test_login_starts_a_fresh_session_and_logout_ends_every_session(client, settings, app) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, ADDRESS)
    laptop, phone = app.test_client(), app.test_client()
    with laptop.session_transaction() as session:
        session["planted"] = "by someone else"
    response = post_form(laptop, "/login", {"email": ADDRESS, "password": PASSWORD, "remember": "y"})
    assert response.headers["Location"] == "/onboarding"
    with laptop.session_transaction() as session:
        assert "planted" not in session
    remember = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token="))
    assert "HttpOnly" in remember
    assert "SameSite=Lax" in remember
    session_cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in session_cookie
    post_form(phone, "/login", {"email": ADDRESS, "password": PASSWORD})
    assert phone.get("/dashboard").status_code == 200

    post_form(laptop, "/logout", {}, form_page="/dashboard")
    assert laptop.get("/dashboard").status_code == 302
    assert phone.get("/dashboard").headers["Location"].startswith("/login")


def test_password_reset_through_the_mailed_link(client, settings, app) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, ADDRESS)
    visitor = app.test_client()
    response = post_form(visitor, "/reset", {"email": ADDRESS})
    assert response.headers["Location"] == "/login"
    post_form(visitor, "/reset", {"email": "nobody@example.com"})
    mail = last_mail_to(settings.outbox_path, ADDRESS)
    assert mail["Subject"] == "Reset your CourseSignal password"
    reset_path = path_of(links_in(mail)[0])
    changed = post_form(visitor, reset_path, {"password": "a brand new passphrase"})
    assert changed.headers["Location"] == "/onboarding"
    assert client.get("/dashboard").status_code == 302  # the old session ended with the old password
    used = visitor.get(reset_path)
    assert used.status_code == 400
    assert "Send me a new reset link" in used.get_data(as_text=True)


def test_a_damaged_verification_link_offers_a_new_one(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/verify/not-a-token")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "not valid" in page
    assert "Send me a new confirmation link" in page


def test_change_email_and_delete_account(client, settings) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, ADDRESS)
    response = post_form(
        client, "/account/email", {"em-new_email": "new@example.com", "em-password": PASSWORD}, form_page="/account"
    )
    assert response.headers["Location"] == "/account"
    confirm = client.get(path_of(links_in(last_mail_to(settings.outbox_path, "new@example.com"))[0]))
    assert confirm.status_code == 302
    assert "new@example.com" in client.get("/account").get_data(as_text=True)

    refused = post_form(
        client, "/account/delete", {"del-password": PASSWORD, "del-confirm": "nope"}, form_page="/account"
    )
    assert refused.status_code == 400
    deleted = post_form(
        client, "/account/delete", {"del-password": PASSWORD, "del-confirm": "delete"}, form_page="/account"
    )
    assert deleted.headers["Location"] == "/signup"
    assert client.get("/dashboard").status_code == 302
    assert "do not match" in post_form(client, "/login", {"email": "new@example.com", "password": PASSWORD}).get_data(
        as_text=True
    )


def test_forms_without_a_csrf_token_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login", data={"email": ADDRESS, "password": PASSWORD})
    assert response.status_code == 400
    assert "Reload the page and try again" in response.get_data(as_text=True)


def test_machine_endpoints_need_no_csrf_token(client) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/t/e", data="{}", content_type="text/plain").status_code == 400  # a reason, not CSRF
    assert client.post("/api/v1/reports/sources").status_code == 405
    assert client.post("/webhooks/csv/1").status_code == 404


def test_pages_carry_a_strict_policy_and_machine_endpoints_keep_theirs(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert page.headers["X-Frame-Options"] == "DENY"
    html = page.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline scripts
    assert "style=" not in html
    assert "<style" not in html

    collect = client.post("/t/e", data="{}", content_type="text/plain")
    assert "Content-Security-Policy" not in collect.headers
    assert collect.headers["Access-Control-Allow-Origin"] == "*"
    assert collect.headers["X-Content-Type-Options"] == "nosniff"
    api = client.get("/api/v1/reports/sources")
    assert api.status_code == 401
    assert api.is_json


def test_login_is_rate_limited(client) -> None:  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/login")
    statuses = [
        client.post("/login", data={"csrf_token": token, "email": ADDRESS, "password": "wrong password!"}).status_code
        for _ in range(11)
    ]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    assert "Wait a minute" in client.post("/login", data={"csrf_token": token}).get_data(as_text=True)


def test_signup_reset_and_resend_are_rate_limited(client) -> None:  # type: ignore[no-untyped-def]
    for path, data, allowed in [
        ("/signup", {"email": "x", "password": "y"}, 5),
        ("/reset", {"email": "x@example.com"}, 5),
        ("/verify/resend", {"email": "x@example.com"}, 3),
    ]:
        token = csrf_token(client, "/login")
        statuses = [client.post(path, data={"csrf_token": token, **data}).status_code for _ in range(allowed + 1)]
        assert 429 not in statuses[:allowed], path
        assert statuses[allowed] == 429, path


def test_people_get_error_pages_and_machines_get_json(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert "Check the address" in page.get_data(as_text=True)
    api = client.get("/api/v1/no-such-report", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.is_json


def test_signed_out_people_are_sent_to_login(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/dashboard", "/account", "/onboarding", "/onboarding/snippet"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login"), path
