"""Structured logs with a request id, a redacted access log, no secret in any log line, error pages without
stack traces, and the client's address behind our own proxies."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from flask import abort

from adapters.jobs import tasks
from adapters.structured_logs import configure_logging
from adapters.web import collect
from tests.conftest import sign_in
from tests.fakes.kajabi import FakeKajabi
from tests.fakes.stripe import FakeStripe
from tests.web_session import last_mail_to, links_in, path_of, post_form

BROWSER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130 Safari/537.36"}


class JsonLog:
    """The lines the app's own handler writes, parsed."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def of_request(self, request_id: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["request_id"] == request_id]


@contextmanager
def capturing(level: str = "DEBUG") -> Iterator[JsonLog]:
    """The handler configure_logging installs, writing into a buffer; logging put back as it was after.

    Other tests may have turned logging down process-wide (`coursesignal simulate` disables INFO), so this
    lifts that for its duration."""
    log = JsonLog()
    disabled, root_level = logging.root.manager.disable, logging.getLogger().level
    logging.disable(logging.NOTSET)
    handler = configure_logging(level, log.stream)
    try:
        yield log
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(root_level)
        logging.disable(disabled)


@pytest.fixture
def json_log(app) -> Iterator[JsonLog]:  # type: ignore[no-untyped-def]
    with capturing() as log:
        yield log


# --- request ids --------------------------------------------------------------------------------------


def test_each_request_gets_an_id_returned_in_the_header_and_on_every_log_line(client, json_log: JsonLog) -> None:  # type: ignore[no-untyped-def]
    first, second = client.get("/healthz"), client.get("/healthz")
    ids = {first.headers["X-Request-ID"], second.headers["X-Request-ID"]}
    assert len(ids) == 2
    for request_id in ids:
        (access,) = json_log.of_request(request_id)
        assert access["logger"] == "adapters.web.request_log"
        assert (access["method"], access["path"], access["status"]) == ("GET", "/healthz", 200)
        assert access["duration_ms"] >= 0


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("lb-3f2a9c1e-77aa", True),
        ("short", False),
        ("x" * 65, False),
        ("abc12345 INFO forged line", False),
        ('abc12345"}', False),
    ],
)
def test_a_sane_incoming_request_id_is_kept_anything_else_replaced(client, incoming: str, kept: bool) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert (response.headers["X-Request-ID"] == incoming) is kept
    assert len(response.headers["X-Request-ID"]) >= 8


def test_a_job_queued_by_a_request_logs_under_the_requests_id(app, container, monkeypatch, json_log: JsonLog) -> None:  # type: ignore[no-untyped-def]
    def reattribute_visitor(account_id: int, visitor_id: int) -> int:
        logging.getLogger("adapters.jobs.tasks").info("re-attributing visitor %s", visitor_id)
        return 0

    reattribute_visitor.__module__ = tasks.__name__
    monkeypatch.setattr(tasks, "reattribute_visitor", reattribute_visitor)

    @app.get("/_test/queue-a-job")
    def queue_a_job() -> str:
        container.gateways.job_queue().enqueue("reattribute_visitor", 1, 42)
        return "queued"

    response = app.test_client().get("/_test/queue-a-job", headers={"X-Request-ID": "req-from-the-edge"})
    container.gateways.job_queue().wait_until_idle()
    job_lines = [line for line in json_log.lines() if line["message"] == "re-attributing visitor 42"]
    assert response.headers["X-Request-ID"] == "req-from-the-edge"
    assert [line["request_id"] for line in job_lines] == ["req-from-the-edge"]


# --- the access log -----------------------------------------------------------------------------------


def test_the_access_log_hides_url_tokens_and_never_writes_headers(client, json_log: JsonLog) -> None:  # type: ignore[no-untyped-def]
    token = f"tok{uuid.uuid4().hex}"
    bearer = f"cs_pat_{uuid.uuid4().hex}"
    client.post(f"/webhooks/kajabi/1/{token}", data=b"{}", content_type="application/json")
    client.get(f"/verify/{token}")
    client.get(f"/reset/{token}?next=/x")
    client.get(f"/api/v1/reports/sources?range=7d&token={token}", headers={"Authorization": f"Bearer {bearer}"})
    client.get("/healthz", headers={"Cookie": f"session={token}"})
    assert token not in json_log.text
    assert bearer not in json_log.text
    paths = [line["path"] for line in json_log.lines() if line["logger"] == "adapters.web.request_log"]
    assert "/webhooks/kajabi/1/[redacted]" in paths
    assert "/verify/[redacted]" in paths
    queries = [line["query"] for line in json_log.lines() if line.get("query")]
    assert "range=7d&token=[redacted]" in queries


def test_the_tracker_endpoints_are_logged_without_the_senders_address(client, json_log: JsonLog) -> None:  # type: ignore[no-untyped-def]
    client.post("/t/e", data=b"{}", headers=BROWSER)
    client.get("/healthz")
    by_path = {line["path"]: line for line in json_log.lines() if line["logger"] == "adapters.web.request_log"}
    assert by_path["/t/e"]["remote_addr"] is None
    assert by_path["/healthz"]["remote_addr"] == "127.0.0.1"


def test_accepted_beacons_are_logged_at_debug_and_every_other_answer_at_info(
    client, container, json_log: JsonLog
) -> None:  # type: ignore[no-untyped-def]
    """The tracker's accepted beacons are most of all requests: their access lines are written at DEBUG."""
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    site = accounts.add_site("creator@example.com", ["example.com"])
    event = {"s": site.public_key, "n": "pageview", "i": "event0001", "v": "visitor01", "u": "https://example.com/"}
    assert client.post("/t/e", data=json.dumps(event), headers=BROWSER).status_code == 204
    assert client.post("/t/e", data=b"{}", headers=BROWSER).status_code == 400
    levels = {
        line["status"]: line["level"] for line in json_log.lines() if line["logger"] == "adapters.web.request_log"
    }
    assert levels == {204: "DEBUG", 400: "INFO"}


# --- no secret in any log line ------------------------------------------------------------------------


@pytest.fixture
def fake_kajabi() -> Iterator[FakeKajabi]:
    with FakeKajabi(client_id=f"kid-{uuid.uuid4().hex}", client_secret=f"ksecret-{uuid.uuid4().hex}") as fake:
        fake.academy = fake.add_site("Academy")  # type: ignore[attr-defined]
        fake.seed_random(3, seed=1)
        yield fake


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe(secret_key=f"sk_test_{uuid.uuid4().hex}", webhook_secret=f"whsec_{uuid.uuid4().hex}") as fake:
        fake.add_price("price_monthly", unit_amount=9900, currency="usd")
        yield fake


@pytest.fixture
def settings(settings, fake_kajabi: FakeKajabi, fake_stripe: FakeStripe):  # type: ignore[no-untyped-def]
    return replace(
        settings,
        secret_key=f"flask-{uuid.uuid4().hex}",
        platform_api_urls={"kajabi": fake_kajabi.base_url},
        stripe_secret_key=fake_stripe.secret_key,
        stripe_webhook_secret=fake_stripe.webhook_secret,
        stripe_price_id="price_monthly",
        stripe_api_base=fake_stripe.base_url,
    )


def test_no_secret_reaches_any_log_line(  # type: ignore[no-untyped-def]
    app, container, settings, fake_kajabi: FakeKajabi, fake_stripe: FakeStripe, json_log: JsonLog, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: dict[str, str] = {
        "password": f"pw {uuid.uuid4().hex} horse",
        "new password": f"pw2 {uuid.uuid4().hex} staple",
        "Kajabi client secret": fake_kajabi.client_secret,
        "Stripe secret key": fake_stripe.secret_key,
        "Stripe webhook secret": fake_stripe.webhook_secret,
        "Flask secret key": settings.secret_key,
        "encryption key": settings.encryption_keys[0],
    }
    client = app.test_client()
    address = "secretive@example.com"

    # Signing up, confirming the address, signing in with "remember me", changing the password.
    assert post_form(client, "/signup", {"email": address, "password": secrets["password"]}).status_code == 302
    verify_link = links_in(last_mail_to(settings.outbox_path, address))[0]
    secrets["verification link token"] = verify_link.rsplit("/", 1)[1]
    client.get(path_of(verify_link))
    post_form(client, "/logout", {}, form_page="/account")
    signed_in = post_form(client, "/login", {"email": address, "password": secrets["password"], "remember": "y"})
    assert signed_in.status_code == 302
    secrets["session cookie"] = client.get_cookie("session").value
    secrets["remember cookie"] = client.get_cookie("remember_token").value
    changed = post_form(
        client,
        "/account/password",
        {"pw-current_password": secrets["password"], "pw-new_password": secrets["new password"]},
        form_page="/account",
    )
    assert changed.status_code == 302
    post_form(client, "/reset", {"email": address}, form_page="/reset")
    reset_link = links_in(last_mail_to(settings.outbox_path, address))[-1]
    secrets["password reset token"] = reset_link.rsplit("/", 1)[1]
    client.get(path_of(reset_link))

    # Connecting Kajabi with its client secret, then a webhook delivery to the URL with its token.
    connected = post_form(
        client,
        "/connections/new/kajabi",
        {"client_id": fake_kajabi.client_id, "client_secret": secrets["Kajabi client secret"]},
        form_page="/connections/new/kajabi",
    )
    assert connected.status_code == 302, connected.text
    container.gateways.job_queue().wait_until_idle()
    connection_id = int(connected.headers["Location"].split("/")[2])
    if "choose" in connected.headers["Location"]:
        post_form(client, connected.headers["Location"], {"choice": fake_kajabi.academy.id})  # type: ignore[attr-defined]
        container.gateways.job_queue().wait_until_idle()
    (hook,) = fake_kajabi.hooks
    secrets["webhook URL token"] = hook.target_url.rsplit("/", 1)[1]
    purchase = next(iter(fake_kajabi.store.purchases.values()))
    body = json.dumps(fake_kajabi.webhook_body("purchase", purchase))
    delivered = client.post(path_of(hook.target_url), data=body, content_type="application/json")
    assert delivered.status_code in (200, 202), delivered.text
    container.gateways.job_queue().wait_until_idle()
    assert client.post(f"/webhooks/kajabi/{connection_id}/wrong-{uuid.uuid4().hex}", data=body).status_code == 404

    # Stripe: a checkout through the fake (our secret key on every call), and a signed event.
    checkout = post_form(client, "/billing/checkout", {}, form_page="/billing")
    assert checkout.status_code == 303, checkout.text
    events = fake_stripe.complete_checkout(checkout.headers["Location"].rsplit("/", 1)[1])
    for event in events:
        event_body, headers = fake_stripe.sign(event)
        assert client.post("/billing/webhook", data=event_body, headers=headers).status_code == 200
    forged, headers = fake_stripe.sign(events[0], secret="whsec_wrong")
    assert client.post("/billing/webhook", data=forged, headers=headers).status_code == 400

    # The API with a personal token, good and bad.
    secrets["API token"] = container.services.accounts().issue_api_token(address)
    api = app.test_client()
    assert api.get("/api/v1/purchases", headers={"Authorization": f"Bearer {secrets['API token']}"}).status_code == 200
    bad_token = f"cs_pat_{uuid.uuid4().hex}"
    secrets["a wrong API token"] = bad_token
    assert api.get("/api/v1/purchases", headers={"Authorization": f"Bearer {bad_token}"}).status_code == 401

    raw = "\n".join(
        [record.getMessage() + " " + json.dumps(vars(record), default=str) for record in caplog.records]
        + [json_log.text]
    )
    assert len(json_log.lines()) > 30, "the flows above should have written plenty of log lines"
    leaked = [name for name, value in secrets.items() if value and value in raw]
    assert not leaked, f"found in the logs: {leaked}"


# --- errors a person can meet -------------------------------------------------------------------------


@pytest.fixture
def failing_app(app, monkeypatch):  # type: ignore[no-untyped-def]
    """The app with views that fail the way a bug would, under a page path, an API path and the tracker's."""

    def explode(*_: object) -> str:
        raise RuntimeError("kaboom: a bug in a view")

    app.add_url_rule("/_test/boom", "boom_page", explode)
    app.add_url_rule("/api/v1/_test/boom", "boom_api", explode)
    app.add_url_rule("/_test/abort-500", "abort_500", lambda: abort(500))
    monkeypatch.setattr(collect, "_collect", explode)  # answered in front of Flask, not by a view
    return app


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert "kaboom" not in text
    assert "RuntimeError" not in text
    assert 'File "' not in text


def test_an_exception_in_a_view_shows_no_traceback_and_logs_one_under_the_request_id(  # type: ignore[no-untyped-def]
    failing_app, json_log: JsonLog
) -> None:
    client = failing_app.test_client()
    page = client.get("/_test/boom", headers={"Accept": "text/html"})
    assert page.status_code == 500
    assert page.mimetype == "text/html"
    _no_traceback(page.text)
    request_id = page.headers["X-Request-ID"]
    assert "Something went wrong" in page.text
    assert request_id in page.text  # the reference a person can quote to support

    (error,) = [line for line in json_log.of_request(request_id) if line["level"] == "ERROR"]
    assert "RuntimeError: kaboom" in error["exception"]
    assert "Traceback" in error["exception"]

    api = client.get("/api/v1/_test/boom", headers={"Accept": "text/html"})
    assert (api.status_code, api.mimetype) == (500, "application/json")
    _no_traceback(api.text)
    assert api.headers["X-Request-ID"] in api.json["error"]

    tracker = client.post("/t/e", data=b"{}", headers=BROWSER)
    assert (tracker.status_code, tracker.mimetype) == (500, "text/plain")
    assert tracker.headers["Access-Control-Allow-Origin"] == "*"
    _no_traceback(tracker.text)

    aborted = client.get("/_test/abort-500", headers={"Accept": "text/html"})
    assert aborted.status_code == 500
    assert "Something went wrong" in aborted.text


def test_an_error_page_that_cannot_render_falls_back_to_a_bare_one(failing_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import adapters.web.app as web_app

    def broken_template(*args: object, **kwargs: object) -> str:
        raise RuntimeError("the database is down too")

    monkeypatch.setattr(web_app, "render_template", broken_template)
    page = failing_app.test_client().get("/_test/boom", headers={"Accept": "text/html"})
    assert page.status_code == 500
    assert "Something went wrong" in page.text
    _no_traceback(page.text)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/page", 404),
        ("POST", "/healthz", 405),
        ("DELETE", "/login", 405),
    ],
)
def test_client_errors_are_a_page_for_people_json_for_the_api_text_for_the_tracker(  # type: ignore[no-untyped-def]
    client, method: str, path: str, status: int
) -> None:
    page = client.open(path, method=method, headers={"Accept": "text/html"})
    assert page.status_code == status
    _no_traceback(page.text)
    if path != "/healthz":
        assert page.mimetype == "text/html"
        assert "Go to the front page" in page.text
    api = client.open("/api/v1" + path, method=method, headers={"Accept": "text/html"})
    assert api.mimetype == "application/json"
    assert "error" in api.json


def test_the_tracker_gets_text_for_a_wrong_method_and_for_a_missing_page(client) -> None:  # type: ignore[no-untyped-def]
    wrong_method = client.get("/t/e")
    assert (wrong_method.status_code, wrong_method.mimetype) == (405, "text/plain")


def test_a_too_large_upload_gets_the_page_that_says_what_to_do(app, container) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    sign_in(client, container)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = client.post(
        "/onboarding/connect",
        data={"file": (io.BytesIO(b"x" * 4096), "big.csv")},
        content_type="multipart/form-data",
        headers={"Accept": "text/html"},
    )
    assert response.status_code in (400, 413)
    _no_traceback(response.text)
    assert response.mimetype == "text/html"


# --- the client's address behind our proxies ----------------------------------------------------------


@pytest.mark.parametrize(("hops", "seen"), [(0, "127.0.0.1"), (1, "198.51.100.7"), (2, "203.0.113.9")])
def test_trusted_proxies_say_who_the_client_is(settings, container, hops: int, seen: str) -> None:  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app

    app = build_app(replace(settings, trusted_proxies=hops), container)
    with capturing("INFO") as log:
        # A client may send its own X-Forwarded-For; each of our proxies appends the address it saw.
        response = app.test_client().get("/healthz", headers={"X-Forwarded-For": "10.6.6.6, 203.0.113.9, 198.51.100.7"})
    (line,) = log.of_request(response.headers["X-Request-ID"])
    assert line["remote_addr"] == seen


def test_an_rq_job_carries_the_request_id_to_the_workers_log_lines(redis_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from rq import Queue

    import adapters.structured_logs as structured_logs
    from adapters.jobs.rq_queue import RqJobQueue, connect_redis
    from adapters.structured_logs import request_id_bound

    redis = connect_redis(redis_url)
    queue_name = f"coursesignal-test-{uuid.uuid4().hex[:8]}"
    with request_id_bound("req-queued-by-a-click"):
        RqJobQueue(redis, queue_name=queue_name).enqueue("reattribute_visitor", 1, 2)
    try:
        (job,) = Queue(queue_name, connection=redis).get_jobs()
        assert job.meta["request_id"] == "req-queued-by-a-click"

        # In the worker, the job is the current one: its log lines carry the id.
        monkeypatch.setattr(structured_logs, "get_current_job", lambda: job)
        with capturing("INFO") as log:
            logging.getLogger("adapters.jobs.tasks").info("re-attributing")
        assert [line["request_id"] for line in log.lines()] == ["req-queued-by-a-click"]
    finally:
        Queue(queue_name, connection=redis).empty()
