"""Billing through the real app, on SQLite and PostgreSQL, against the fake Stripe with real signatures."""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import render_template_string
from werkzeug.serving import make_server

from adapters.persistence import tables as t
from tests.fakes.stripe import FakeStripe, signature_header
from tests.integration.billing_world import (
    BILLING_PAGE,
    OPERATOR,
    PRICE_ID,
    Creator,
    billed_settings,
)
from tests.web_session import mail_body, outbox_messages, post_form


@pytest.fixture
def settings(settings, fake_stripe: FakeStripe):  # type: ignore[no-untyped-def]
    return billed_settings(settings, fake_stripe)


@pytest.fixture
def creator(client, container, fake_stripe: FakeStripe) -> Creator:  # type: ignore[no-untyped-def]
    return Creator(client, container, fake_stripe)


def test_subscribing_through_checkout_during_the_trial(creator: Creator) -> None:
    trial_end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=11)
    creator.trial_ends(trial_end)
    page = creator.client.get("/billing")
    assert 'data-status="trialing"' in page.text
    assert "11 days left" in page.text
    assert "Subscribe for $99.00/month" in page.text

    session_id = creator.checkout()
    sent = creator.fake.calls("POST", "/v1/checkout/sessions")[-1]
    customer_id = sent.params["customer"]
    assert sent.authorized
    assert sent.params == {
        "mode": "subscription",
        "line_items": [{"price": PRICE_ID, "quantity": "1"}],
        "success_url": f"{BILLING_PAGE}?checkout=success",
        "cancel_url": f"{BILLING_PAGE}?checkout=canceled",
        "client_reference_id": str(creator.account_id),
        "customer": customer_id,
        "subscription_data": {
            "metadata": {"coursesignal_account_id": str(creator.account_id)},
            "trial_end": str(int(trial_end.timestamp())),
            "trial_settings": {"end_behavior": {"missing_payment_method": "cancel"}},
        },
    }
    assert creator.fake.customers[customer_id]["email"] == "creator@example.com"
    assert creator.fake.customers[customer_id]["metadata"] == {"coursesignal_account_id": str(creator.account_id)}

    outcomes = creator.send_all(creator.fake.complete_checkout(session_id))
    assert outcomes[0] == "applied"
    page = creator.client.get("/billing?checkout=success")
    assert 'data-status="active"' in page.text
    assert "Your first payment is on" in page.text
    assert "Thank you!" in page.text
    assert "Subscribe for" not in page.text

    portal = post_form(creator.client, "/billing/portal", {}, form_page="/billing")
    assert portal.status_code == 303
    assert portal.headers["Location"].startswith(f"{creator.fake.base_url}/portal/bps_")
    assert creator.fake.calls("POST", "/v1/billing_portal/sessions")[-1].params == {
        "customer": customer_id,
        "return_url": BILLING_PAGE,
    }
    assert (
        post_form(creator.client, "/billing/checkout", {}, form_page="/billing").status_code == 409
    )  # already subscribed


def test_a_failed_payment_sequence_goes_past_due_then_canceled_with_an_email_each_time(creator: Creator) -> None:
    creator.trial_ends(datetime.now(UTC) - timedelta(days=1))
    assert creator.reports_status() == 402
    subscription_id = creator.subscribe()
    assert creator.status() == "active"
    assert creator.reports_status() == 200
    assert "Renews on" in creator.client.get("/billing").text

    for attempt in (1, 2, 3):
        creator.send_all(creator.fake.fail_payment(subscription_id))
        page = creator.client.get("/billing").text
        assert 'data-status="past_due"' in page
        assert f"{attempt} failed attempt" in page
        assert "Stripe tries again on" in page
        assert "Update card" in page
        assert creator.reports_status() == 200  # access stays while Stripe retries
    creator.send_all(creator.fake.fail_payment(subscription_id))  # the last retry fails: Stripe cancels
    assert creator.status() == "canceled"
    assert creator.reports_status() == 402

    mails = [m for m in outbox_messages(Path(creator.container.config.outbox_path())) if "card" in m["Subject"]]
    assert [m["To"] for m in mails] == ["creator@example.com"] * 4
    notices = [mail_body(m) for m in mails]
    assert all(f"Update your card here: {BILLING_PAGE}" in n for n in notices)
    assert [f"payment attempt {n})" in notice for n, notice in zip((1, 2, 3, 4), notices, strict=True)] == [True] * 4
    assert "We will try again on" in notices[0]
    assert "your subscription has ended" in notices[3]


def test_forged_and_stale_signatures_get_400_and_change_nothing(creator: Creator) -> None:
    subscription_id = creator.subscribe()
    handled = creator.count(t.billing_events)
    (ending,) = creator.fake.end_subscription(subscription_id)
    body, headers = creator.fake.sign(ending)

    refused = [
        creator.send(ending, secret="whsec_someone_else"),
        creator.send(ending, timestamp=int(time.time()) - 301),
        creator.client.post("/billing/webhook", data=body, headers={"Content-Type": "application/json"}),
        creator.client.post("/billing/webhook", data=body.replace(b"canceled", b"active"), headers=headers),
        creator.client.post("/billing/webhook", data=body, headers={**headers, "Stripe-Signature": "t=1,v1=00"}),
    ]
    assert [r.status_code for r in refused] == [400] * 5
    assert "STRIPE_WEBHOOK_SECRET" in refused[0].json["error"]
    assert creator.count(t.billing_events) == handled
    assert creator.status() == "active"

    assert creator.send(ending).status_code == 200
    assert creator.status() == "canceled"


def test_a_signed_body_that_is_not_an_event_gets_its_own_400_reason(creator: Creator) -> None:
    not_an_event = b'{"id": "evt_1", "object": "event"'  # cut short
    signed = creator.fake.webhook_secret, int(time.time())
    unreadable = creator.client.post(
        "/billing/webhook",
        data=not_an_event,
        headers={"Stripe-Signature": signature_header(not_an_event, *signed), "Content-Type": "application/json"},
    )
    forged = creator.client.post(
        "/billing/webhook",
        data=not_an_event,
        headers={"Stripe-Signature": signature_header(not_an_event, "whsec_x", signed[1])},
    )
    assert (unreadable.status_code, forged.status_code) == (400, 400)
    assert "not a Stripe event" in unreadable.json["error"]
    assert "signature" not in unreadable.json["error"].lower()
    assert "Stripe-Signature does not match" in forged.json["error"]
    assert creator.count(t.billing_events) == 0


def test_duplicates_are_ignored_and_delivery_order_does_not_matter(creator: Creator) -> None:
    events = creator.fake.complete_checkout(creator.checkout())
    outcomes = creator.send_all([*reversed(events), *events])
    assert outcomes[3:] == ["duplicate"] * 3
    assert creator.status() == "active"
    assert creator.count(t.billing_events) == 3

    subscription_id = events[-1]["data"]["object"]["subscription"]
    first_failure = creator.fake.fail_payment(subscription_id)
    creator.fake.clock = lambda: time.time() + 3 * 86_400  # Stripe's retry, three days later, succeeds
    recovery = creator.fake.pay_invoice(subscription_id)
    creator.send_all([*recovery, *first_failure])  # the recovery arrives before the failure it recovers from
    assert creator.status() == "active"
    assert "failed attempt" not in creator.client.get("/billing").text


def test_a_checkout_for_an_unknown_customer_is_logged_without_a_crash(
    creator: Creator, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = creator.fake.add_customer("stranger@example.com")
    session = {
        "id": "cs_test_stranger",
        "object": "checkout.session",
        "mode": "subscription",
        "customer": stranger["id"],
        "subscription": None,
        "client_reference_id": None,
        "status": "complete",
    }
    response = creator.send(creator.fake.event("checkout.session.completed", session))
    assert response.status_code == 200
    assert response.json["outcome"] == "unknown_customer"
    assert "belongs to no account" in caplog.text
    assert creator.count(t.billing_subscriptions) == 0


def test_the_end_of_the_trial_gates_reports_but_collection_goes_on_and_nothing_is_deleted(creator: Creator) -> None:
    creator.trial_ends(datetime.now(UTC) + timedelta(days=2))
    assert creator.track_a_visit("event0001") == 204
    assert creator.reports_status() == 200

    creator.trial_ends(datetime.now(UTC) - timedelta(minutes=1))
    gated = creator.client.get("/api/v1/reports/sources?range=7d")
    assert gated.status_code == 402
    assert f"subscribe at {BILLING_PAGE}" in gated.json["error"]
    assert creator.client.get("/api/v1/reports/sources.csv").status_code == 402
    assert creator.track_a_visit("event0002") == 204
    creator.container.gateways.job_queue().wait_until_idle()
    assert creator.count(t.events) == 2
    page = creator.client.get("/billing").text
    assert 'data-status="trial_expired"' in page
    assert "nothing is deleted" in page
    assert "Subscribe for $99.00/month" in page

    creator.subscribe()
    assert creator.reports_status() == 200


def test_the_billing_page_needs_a_signed_in_creator(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/billing")
    assert (page.status_code, page.headers["Location"]) == (302, "/login?next=%2Fbilling")
    checkout = post_form(client, "/billing/checkout", {}, form_page="/login")
    assert (checkout.status_code, checkout.headers["Location"]) == (302, "/login?next=%2Fbilling%2Fcheckout")


def test_checkout_over_real_http_with_stripe_delivering_to_the_running_app(app, creator: Creator) -> None:  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    creator.fake.webhook_url = f"http://127.0.0.1:{server.server_port}/billing/webhook"
    try:
        session_id = creator.checkout()
        pay_url = f"{creator.fake.base_url}/checkout/{session_id}/pay"  # the hosted page's Subscribe button
        pay = urllib.request.Request(pay_url, data=b"", method="POST")  # noqa: S310 - the local fake
        with pytest.raises(urllib.error.HTTPError) as redirect:  # a 303 back to the app, not followed here
            urllib.request.build_opener(_NoRedirects).open(pay, timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert redirect.value.code == 303
    assert redirect.value.headers["Location"] == f"{BILLING_PAGE}?checkout=success"
    assert creator.status() == "active"
    assert creator.fake.calls("GET", f"/v1/subscriptions/{next(iter(creator.fake.subscriptions))}")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def test_the_openapi_document_describes_the_billing_webhook_and_the_subscribe_answer(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/openapi.json").json["paths"]
    assert set(paths["/billing/webhook"]["post"]["responses"]) == {"200", "400", "413", "503"}
    assert "402" in paths["/api/v1/reports/sources"]["get"]["responses"]
    assert "402" in paths["/api/v1/reports/sources.csv"]["get"]["responses"]


def test_every_template_can_ask_for_the_trials_days_left(app, creator: Creator) -> None:  # type: ignore[no-untyped-def]
    creator.trial_ends(datetime.now(UTC) + timedelta(days=5, hours=1))
    badge = "{% set b = billing_overview() %}{{ b.trial_days_left if b else 'visitor' }}"
    with app.test_request_context("/"):
        assert render_template_string(badge) == "visitor"
    with creator.client:
        creator.client.get("/billing")
        assert render_template_string(badge) == "6"


def _banner(creator: Creator, path: str = "/account") -> str | None:
    page = creator.client.get(path)
    assert page.status_code == 200, path
    found = re.search(r'<p class="trial" data-billing="([a-z_]+)"[^>]*>(.*?)</p>', page.text, re.S)
    return f"{found.group(1)}: {' '.join(re.sub('<[^>]+>', '', found.group(2)).split())}" if found else None


def test_a_paid_trial_canceled_in_the_portal_then_ended_shows_one_state_everywhere(creator: Creator) -> None:
    creator.trial_ends(datetime.now(UTC) + timedelta(days=10, hours=1))
    subscription_id = creator.subscribe()
    first_charge = datetime.fromtimestamp(creator.fake.subscriptions[subscription_id]["trial_end"], UTC)
    day = f"{first_charge:%B} {first_charge.day}"
    assert "Your first payment is on" in creator.client.get("/billing").text
    assert _banner(creator) is None

    creator.send_all(creator.fake.cancel_at_period_end(subscription_id))  # the Portal's cancel
    page = " ".join(creator.client.get("/billing").text.split())
    assert creator.status() == "ending"
    assert f"ends on {day}, {first_charge.year} and you will not be charged again" in page
    assert "Your first payment" not in page
    assert "Subscribe for" not in page
    assert _banner(creator) == f"ending: Your subscription is canceled and ends on {day}: resume it under Billing"
    assert creator.reports_status() == 200

    creator.send_all(creator.fake.end_subscription(subscription_id))  # ended before the trial's end
    assert creator.status() == "trialing"
    assert _banner(creator) == "trialing: 11 days left in your free trial · Subscribe"
    assert creator.reports_status() == 200


def test_the_banner_follows_the_subscription_not_the_calendar(creator: Creator) -> None:
    creator.trial_ends(datetime.now(UTC) - timedelta(days=3))
    assert _banner(creator) == "trial_expired: Your free trial has ended: subscribe to see your reports"
    subscription_id = creator.subscribe()
    assert _banner(creator) is None  # a paying subscriber after day 14
    creator.send_all(creator.fake.fail_payment(subscription_id))
    assert _banner(creator) == "past_due: Your payment failed: update your card to keep your subscription"
    creator.send_all(creator.fake.pay_invoice(subscription_id))
    assert _banner(creator) is None
    for _ in range(4):
        creator.send_all(creator.fake.fail_payment(subscription_id))
    assert _banner(creator) == "canceled: Your subscription has ended: subscribe to see your reports"


def test_the_billing_page_is_on_the_base_layout_and_hides_subscribe_while_checkout_lands(creator: Creator) -> None:
    creator.trial_ends(datetime.now(UTC) + timedelta(days=5))
    page = creator.client.get("/billing").text
    assert 'href="/static/app.css' in page
    assert 'id="main-menu"' in page
    assert 'class="button primary">Subscribe for $99.00/month' in page
    back = creator.client.get("/billing?checkout=success").text
    assert "Thank you!" in back
    assert "Subscribe for" not in back


def test_two_tabs_and_subscribe_again_before_the_webhook_end_with_one_subscription(creator: Creator) -> None:
    creator.trial_ends(datetime.now(UTC) + timedelta(days=10))
    first_tab, second_tab = creator.checkout(), creator.checkout()
    assert first_tab == second_tab  # the open Checkout Session is reused
    assert len(creator.fake.calls("POST", "/v1/checkout/sessions")) == 1
    customer_id = creator.customer_id()
    assert creator.fake.calls("GET", "/v1/checkout/sessions")[-1].params == {
        "customer": customer_id,
        "status": "open",
        "limit": "1",
    }

    events = creator.fake.complete_checkout(first_tab)  # paid; its webhooks are not here yet
    again = post_form(creator.client, "/billing/checkout", {}, form_page="/billing")
    assert again.status_code == 409
    assert "already subscribed" in again.text
    assert len(creator.fake.calls("POST", "/v1/checkout/sessions")) == 1
    assert creator.status() == "active"  # taken from Stripe's list meanwhile

    creator.send_all(list(reversed(events)))
    assert len(creator.fake.live_subscriptions(customer_id)) == 1
    assert creator.status() == "active"
    assert "Your first payment is on" in creator.client.get("/billing").text


@pytest.mark.parametrize("order", ["in order", "reversed", "interleaved"])
def test_a_second_live_subscription_is_canceled_refunded_and_reported(creator: Creator, order: str) -> None:
    creator.trial_ends(datetime.now(UTC) - timedelta(days=1))  # no trial left: each plan is charged at once
    checkout = creator.fake.complete_checkout(creator.checkout())
    kept = checkout[0]["data"]["object"]["id"]
    creator.fake.clock = lambda: time.time() + 1  # Stripe's created has one-second resolution
    second = creator.second_subscription()
    extra = second[0]["data"]["object"]["id"]
    deliveries = {
        "in order": [*checkout, *second],
        "reversed": [*reversed(second), *reversed(checkout)],
        "interleaved": [second[0], checkout[0], second[1], checkout[2], second[2], checkout[1]],
    }[order]
    outcomes = creator.send_all(deliveries)
    assert "second_subscription_canceled" in outcomes

    customer_id = creator.customer_id()
    assert [s["id"] for s in creator.fake.live_subscriptions(customer_id)] == [kept]
    assert creator.fake.subscriptions[extra]["status"] == "canceled"
    assert [c.path for c in creator.fake.calls("DELETE", f"/v1/subscriptions/{extra}")] == [
        f"/v1/subscriptions/{extra}"
    ]
    (refund,) = creator.fake.refunds.values()
    extra_invoice = creator.fake.subscriptions[extra]["latest_invoice"]
    (payment,) = [p for p in creator.fake.invoice_payments.values() if p["invoice"] == extra_invoice]
    assert (refund["amount"], refund["payment_intent"], refund["reason"]) == (
        9900,
        payment["payment"]["payment_intent"],
        "duplicate",
    )
    assert creator.status() == "active"
    assert creator.reports_status() == 200

    # Stripe then says the extra plan ended, and redelivers what it sent: nothing changes, nothing is refunded twice.
    ended = creator.fake.event("customer.subscription.deleted", creator.fake.subscriptions[extra])
    assert creator.send_all([ended, *deliveries]) == ["unchanged", *["duplicate"] * len(deliveries)]
    assert creator.status() == "active"
    assert len(creator.fake.refunds) == 1

    (report,) = [m for m in outbox_messages(Path(creator.container.config.outbox_path())) if m["To"] == OPERATOR]
    assert f"Canceled: {extra}" in mail_body(report)
    assert f"Kept: {kept}" in mail_body(report)
    assert "Refunded: $99.00 USD" in mail_body(report)


def _mails(creator: Creator) -> list[tuple[str, str]]:
    return [
        (m["Subject"], " ".join(mail_body(m).split()))
        for m in outbox_messages(Path(creator.container.config.outbox_path()))
        if m["To"] == "creator@example.com"
    ]


def test_the_creator_is_told_of_authentication_and_recovery_but_not_of_a_failure_already_recovered(
    creator: Creator,
) -> None:
    creator.trial_ends(datetime.now(UTC) - timedelta(days=1))
    subscription_id = creator.subscribe()
    creator.send_all(creator.fake.fail_payment(subscription_id))
    action = creator.fake.require_action(subscription_id)
    hosted = action[0]["data"]["object"]["hosted_invoice_url"]
    creator.send_all(action)
    creator.fake.clock = lambda: time.time() + 3 * 86_400
    creator.send_all(creator.fake.pay_invoice(subscription_id))
    assert [subject for subject, _ in _mails(creator)] == [
        "Your CourseSignal payment failed: please update your card",
        "Confirm your CourseSignal payment",
        "Your CourseSignal payment went through",
    ]
    assert f"Confirm it here: {hosted}" in _mails(creator)[1][1]
    assert "you are all set" in _mails(creator)[2][1]

    # The next renewal fails, the retry succeeds, and Stripe delivers the recovery before the failure.
    creator.fake.clock = lambda: time.time() + 33 * 86_400
    failure = creator.fake.fail_payment(subscription_id)
    creator.fake.clock = lambda: time.time() + 36 * 86_400
    recovery = creator.fake.pay_invoice(subscription_id)
    creator.send_all([*recovery, *failure])
    assert creator.status() == "active"
    assert len(_mails(creator)) == 3  # no warning that contradicts the payment that went through, no "recovered"


def test_a_canceled_plan_ending_is_told_once_and_says_the_trial_goes_on(creator: Creator) -> None:
    creator.trial_ends(datetime.now(UTC) + timedelta(days=10))
    subscription_id = creator.subscribe()
    creator.send_all(creator.fake.cancel_at_period_end(subscription_id))
    ended = creator.fake.end_subscription(subscription_id)
    creator.send_all(ended)
    creator.send_all([{**ended[0], "id": ended[0]["id"] + "x"}])  # the same news in another event: told once
    ((subject, body),) = _mails(creator)
    assert subject == "Your CourseSignal subscription has ended"
    trial_end = datetime.now(UTC) + timedelta(days=10)
    assert f"Your free trial goes on until {trial_end:%B} {trial_end.day}, {trial_end.year}" in body


def test_the_trial_job_reminds_then_tells_the_end_and_a_paid_trial_hears_from_stripe(creator: Creator) -> None:
    from adapters.jobs.tasks import task_function
    from core.services.billing_notices import TRIAL_NOTICES_TASK

    jobs = creator.container.gateways.job_queue()
    creator.trial_ends(datetime.now(UTC) + timedelta(days=2, hours=12))
    for _ in range(2):  # the periodic job runs again: one email
        jobs.enqueue(TRIAL_NOTICES_TASK)
        jobs.wait_until_idle()
    assert [subject for subject, _ in _mails(creator)] == ["Your CourseSignal trial ends in 3 days"]
    creator.trial_ends(datetime.now(UTC) - timedelta(hours=1))
    assert task_function(TRIAL_NOTICES_TASK)() == 1
    assert task_function(TRIAL_NOTICES_TASK)() == 0
    assert _mails(creator)[-1][0] == "Your CourseSignal trial has ended"
    assert creator.reports_status() == 402


def test_a_plan_in_its_trial_is_reminded_by_stripes_trial_will_end(creator: Creator) -> None:
    creator.trial_ends(datetime.now(UTC) + timedelta(days=10))
    subscription_id = creator.subscribe()
    creator.fake.clock = lambda: time.time() + 7 * 86_400
    creator.send_all(creator.fake.trial_will_end(subscription_id))
    creator.send_all(creator.fake.trial_will_end(subscription_id))  # a second event: still one email
    ((subject, body),) = _mails(creator)
    assert subject == "Your CourseSignal trial ends soon: your plan starts then"
    assert "Your subscription ($99.00/month) starts then" in body


def test_two_subscribe_clicks_at_the_same_moment_make_one_customer_and_one_checkout(creator: Creator) -> None:
    creator.trial_ends(datetime.now(UTC) + timedelta(days=10))
    subscriptions = creator.container.services.subscriptions()
    start = threading.Barrier(2)
    urls: list[str] = []

    def click() -> None:
        start.wait()
        urls.append(subscriptions.start_checkout(creator.account_id, f"{BILLING_PAGE}?ok", f"{BILLING_PAGE}?no"))

    tabs = [threading.Thread(target=click) for _ in range(2)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join(timeout=30)
    assert len(urls) == 2
    assert urls[0] == urls[1]
    assert len(creator.fake.calls("POST", "/v1/customers")) == 1
    assert len(creator.fake.calls("POST", "/v1/checkout/sessions")) == 1


@pytest.mark.parametrize("order", ["in order", "reversed"])
def test_a_paid_trial_canceled_then_ended_in_any_order_leaves_the_trial_and_one_email(
    creator: Creator, order: str
) -> None:
    creator.trial_ends(datetime.now(UTC) + timedelta(days=10, hours=1))
    subscription_id = creator.subscribe()
    canceled = creator.fake.cancel_at_period_end(subscription_id)
    creator.fake.clock = lambda: time.time() + 1
    ended = creator.fake.end_subscription(subscription_id)
    creator.send_all([*canceled, *ended] if order == "in order" else [*ended, *canceled])
    assert creator.status() == "trialing"
    assert _banner(creator) == "trialing: 11 days left in your free trial · Subscribe"
    assert creator.reports_status() == 200
    assert [subject for subject, _ in _mails(creator)] == ["Your CourseSignal subscription has ended"]
    assert creator.fake.calls("DELETE", f"/v1/subscriptions/{subscription_id}") == []  # Stripe ended it, not us
    assert creator.fake.refunds == {}


def test_a_second_subscription_seen_only_in_an_invoice_event_is_canceled_and_refunded(creator: Creator) -> None:
    creator.trial_ends(datetime.now(UTC) - timedelta(days=1))
    kept = creator.subscribe()
    creator.fake.clock = lambda: time.time() + 1
    second = creator.second_subscription()
    (paid,) = [event for event in second if event["type"] == "invoice.paid"]
    assert creator.send_all([paid]) == ["second_subscription_canceled"]  # its other events never came
    assert [s["id"] for s in creator.fake.live_subscriptions(creator.customer_id())] == [kept]
    assert [r["amount"] for r in creator.fake.refunds.values()] == [9900]
    assert creator.status() == "active"


def test_the_embedded_default_runs_the_trial_reminders_periodically(app) -> None:  # type: ignore[no-untyped-def]
    from adapters.jobs.in_process import InProcessJobQueue
    from core.services.billing_notices import TRIAL_NOTICES_TASK

    job_queue = app.extensions["coursesignal.container"].gateways.job_queue()
    assert isinstance(job_queue, InProcessJobQueue)
    assert f"coursesignal-every-{TRIAL_NOTICES_TASK}" in {thread.name for thread in threading.enumerate()}
