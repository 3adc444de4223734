"""The beta program in the app: the member's page (setup help, feedback, testimonial consent), the weekly
prompt on the dashboard, and the operator's page where all of it is seen, invitations made and requests closed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from dependency_injector import providers

from tests.conftest import sign_in
from tests.unit.fakes import FixedClock
from tests.web_session import csrf_token, post_form

PROMPT = 'id="beta-feedback-prompt"'


@pytest.fixture
def clock(container) -> FixedClock:  # type: ignore[no-untyped-def]
    """Set before the app starts: every service reads the same controllable time."""
    from datetime import UTC, datetime

    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    container.gateways.clock.override(providers.Object(clock))
    return clock


class _People:
    def __init__(self, app: Any, container: Any) -> None:
        self.app, self.container = app, container
        self.member, self.outsider, self.operator = app.test_client(), app.test_client(), app.test_client()
        self.sign_in_all()
        container.services.beta().invite("member@example.com")
        container.services.accounts().grant_operator("olga@example.com")

    def sign_in_all(self) -> None:
        """Sessions end when idle: after the clock jumps days ahead, everyone signs in again."""
        sign_in(self.member, self.container, "member@example.com")
        sign_in(self.outsider, self.container, "outsider@example.com")
        sign_in(self.operator, self.container, "olga@example.com")

    def operator_page(self) -> str:
        page = self.operator.get("/operator/beta")
        assert page.status_code == 200
        return str(page.text)


@pytest.fixture
def people(clock, app, container) -> _People:  # type: ignore[no-untyped-def]
    return _People(app, container)


def test_the_beta_page_is_for_members_only(people: _People) -> None:
    page = people.member.get("/beta")
    assert page.status_code == 200
    assert "60 days from the start of your trial instead of 14" in page.text
    assert 'id="beta-link"' in people.member.get("/billing").text
    assert 'id="beta-link"' not in people.outsider.get("/billing").text
    token = csrf_token(people.outsider, "/dashboard")
    assert people.outsider.get("/beta").status_code == 404
    for path in ("/beta/setup-help", "/beta/feedback", "/beta/feedback/dismiss", "/beta/testimonial"):
        assert people.outsider.post(path, data={"csrf_token": token, "message": "x"}).status_code == 404, path


def test_a_member_asks_for_setup_help_and_the_operator_sees_and_closes_it(people: _People) -> None:
    asked = post_form(people.member, "/beta/setup-help", {"message": "Help with <Kajabi> webhooks"}, form_page="/beta")
    assert asked.status_code == 302
    assert 'id="setup-help-open"' in people.member.get("/beta").text
    again = people.member.post(
        "/beta/setup-help", data={"csrf_token": csrf_token(people.member, "/beta/"), "message": "again"}
    )
    assert again.status_code == 409
    assert "You already asked for setup help" in again.text

    page = people.operator_page()
    assert "Help with &lt;Kajabi&gt; webhooks" in page  # escaped
    assert "1 setup help request open" in page
    (request_id,) = re.findall(r'name="request_id" value="(\d+)"', page)
    closed = post_form(
        people.operator, "/operator/beta/setup-help/close", {"request_id": request_id}, form_page="/operator/beta"
    )
    assert closed.status_code == 302
    page = people.operator_page()
    assert "Setup help request closed." in page
    assert "0 setup help requests open" in page
    assert 'name="request_id"' not in page
    assert "Closed " in page
    twice = post_form(
        people.operator, "/operator/beta/setup-help/close", {"request_id": request_id}, form_page="/operator/beta"
    )
    assert twice.status_code == 302
    assert "closed already" in people.operator_page()
    # Once it is closed, the member can ask again.
    assert 'id="setup-help-open"' not in people.member.get("/beta").text


def test_the_weekly_prompt_shows_a_week_after_joining_and_rests_a_week_after_an_answer_or_a_dismissal(
    people: _People, clock: FixedClock
) -> None:
    def prompted() -> bool:
        page = people.member.get("/dashboard")
        assert page.status_code == 200
        return PROMPT in page.text

    def days(n: float) -> None:
        clock.advance(seconds=n * 86_400)
        people.sign_in_all()

    assert not prompted()
    days(7)
    assert prompted()
    assert PROMPT not in people.outsider.get("/dashboard").text  # only members are asked
    empty = post_form(
        people.member, "/beta/feedback", {"confusing": " ", "back_to": "dashboard"}, form_page="/dashboard"
    )
    assert empty.status_code == 400
    assert "Write something in at least one of the two boxes" in empty.text
    sent = post_form(
        people.member,
        "/beta/feedback",
        {"confusing": "What first touch means", "missing_report": "Revenue by country", "back_to": "dashboard"},
        form_page="/dashboard",
    )
    assert sent.status_code == 302
    assert sent.headers["Location"] == "/dashboard"
    assert not prompted()
    page = people.operator_page()
    assert "What first touch means" in page
    assert "Revenue by country" in page

    days(7)
    assert prompted()
    dismissed = post_form(people.member, "/beta/feedback/dismiss", {"back_to": "dashboard"}, form_page="/dashboard")
    assert dismissed.headers["Location"] == "/dashboard"
    assert not prompted()
    days(6.9)
    assert not prompted()
    days(0.1)
    assert prompted()
    report = people.container.services.metrics().report()
    assert (report.beta.feedback_answers, report.beta.feedback_accounts) == (1, 1)


def test_testimonial_consent_is_recorded_with_its_date_and_can_be_withdrawn(people: _People, clock: FixedClock) -> None:
    given_on = clock.now()
    post_form(people.member, "/beta/testimonial", {"consent": "y"}, form_page="/beta")
    day = f"{given_on:%B} {given_on.day}, {given_on.year}"
    assert f"You agreed to be quoted on {day}." in people.member.get("/beta").text
    assert f"Given {given_on:%Y-%m-%d}" in people.operator_page()
    assert people.container.services.metrics().report().beta.testimonial_consents == 1

    clock.advance(seconds=3 * 86_400)
    people.sign_in_all()
    withdrawn_on = clock.now()
    post_form(people.member, "/beta/testimonial", {}, form_page="/beta")
    assert "You withdrew your consent on" in people.member.get("/beta").text
    assert f"Withdrawn {withdrawn_on:%Y-%m-%d}" in people.operator_page()
    assert people.container.services.metrics().report().beta.testimonial_consents == 0


def test_operators_invite_from_the_console_and_creators_never_see_it(people: _People, container) -> None:  # type: ignore[no-untyped-def]
    invited = post_form(
        people.operator, "/operator/beta/invite", {"email": "New@Example.com"}, form_page="/operator/beta"
    )
    assert invited.status_code == 302
    page = people.operator_page()
    assert "new@example.com is invited" in page
    assert "Not signed up yet" in page
    marked = post_form(
        people.operator, "/operator/beta/invite", {"email": "outsider@example.com"}, form_page="/operator/beta"
    )
    assert marked.status_code == 302
    assert "outsider@example.com is now a beta member" in people.operator_page()
    assert people.outsider.get("/beta").status_code == 200
    bad = post_form(people.operator, "/operator/beta/invite", {"email": "not an address"}, form_page="/operator/beta")
    assert bad.status_code == 400

    token = csrf_token(people.member, "/dashboard")
    for path in ("/operator/beta", "/operator/beta/invite", "/operator/beta/setup-help/close"):
        method = "GET" if path == "/operator/beta" else "POST"
        response = people.member.open(path, method=method, data={"csrf_token": token, "email": "x@example.com"})
        assert response.status_code == 404, path
        # Without a form token too: a 404, never a form error that would tell the route exists.
        assert people.member.open(path, method=method, data={"email": "x@example.com"}).status_code == 404, path
    assert container.services.beta().member(container.services.accounts().ensure_account("x@example.com").id) is None
    # An operator's forms are checked all the same.
    assert people.operator.post("/operator/beta/invite", data={"email": "x@example.com"}).status_code == 400


def test_the_account_export_carries_the_members_beta_rows_and_feature_usage(people: _People) -> None:
    import json

    post_form(people.member, "/beta/setup-help", {"message": "A call, please"}, form_page="/beta")
    post_form(people.member, "/beta/feedback", {"confusing": "Lookback"}, form_page="/beta")
    post_form(people.member, "/beta/testimonial", {"consent": "y"}, form_page="/beta")
    people.member.get("/dashboard")
    exported = post_form(people.member, "/privacy/account-export", {}, form_page="/privacy/")
    tables = json.loads(exported.get_data())["tables"]
    assert [m["email"] for m in tables["beta_members"]] == ["member@example.com"]
    assert tables["beta_members"][0]["testimonial_consent_at"] is not None
    assert [r["message"] for r in tables["beta_setup_help"]] == ["A call, please"]
    assert [f["confusing"] for f in tables["beta_feedback"]] == ["Lookback"]
    assert [(u["feature"], u["uses"]) for u in tables["feature_usage"]] == [("dashboard", 1)]
