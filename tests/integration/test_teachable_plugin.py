"""The Teachable plugin against the fake Teachable Admin API, over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.domain.money import Money
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.ports.platforms import PlatformError, WebhookBatch, WebhookDelivery, WebhookRejected
from coursesignal import RetryingHttp
from plugins.teachable import TeachablePlatform
from tests.fakes.teachable import FakeTeachable

SINCE_30_DAYS = timedelta(days=30)


@pytest.fixture
def teachable() -> Iterator[FakeTeachable]:
    with FakeTeachable() as fake:
        yield fake


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def platform(waits: list[float], teachable: FakeTeachable) -> TeachablePlatform:
    return TeachablePlatform(api_url=teachable.api_url, http=RetryingHttp("Teachable", sleep=waits.append))


def credentials(fake: FakeTeachable, key: str | None = None) -> dict[str, str]:
    return {"api_key": key or fake.api_key}


def sync(platform: TeachablePlatform, fake: FakeTeachable, since: datetime | None = None) -> list:  # type: ignore[type-arg]
    since = since or datetime.now(UTC) - SINCE_30_DAYS
    return list(platform.fetch_purchases(credentials(fake), since, lambda done, total: None))


def read(platform: TeachablePlatform, delivery: WebhookDelivery, creds: dict[str, str]) -> tuple[WebhookBatch, tuple]:  # type: ignore[type-arg]
    """A delivery as CourseSignal handles it: read in the request, then confirmed through the API in a job."""
    batch = platform.read_webhook(delivery, creds)
    return batch, tuple(platform.confirm_batch(creds, batch))


def purchases(records: list) -> list[PurchaseRecord]:  # type: ignore[type-arg]
    return [r for r in records if isinstance(r, PurchaseRecord)]


# ---- connect -------------------------------------------------------------------------------------


def test_a_good_key_connects(platform: TeachablePlatform, teachable: FakeTeachable) -> None:
    check = platform.check_credentials(credentials(teachable))
    assert check.ok, check.message
    (request,) = teachable.requests_to("/v1/transactions")
    assert request.headers["apikey"] == teachable.api_key
    assert request.query["per"] == "1"


def test_a_bad_key_says_where_to_create_one(platform: TeachablePlatform, teachable: FakeTeachable) -> None:
    check = platform.check_credentials(credentials(teachable, key="not-the-key"))
    assert not check.ok
    assert "refused this API key" in check.message
    assert "Settings > API" in check.message


def test_an_empty_key_is_refused_without_calling_teachable(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    check = platform.check_credentials({"api_key": "  "})
    assert not check.ok
    assert "Paste your Teachable API key" in check.message
    assert teachable.requests == []


def test_a_plan_without_api_access_says_so(platform: TeachablePlatform, teachable: FakeTeachable) -> None:
    teachable.api_access = False
    check = platform.check_credentials(credentials(teachable))
    assert not check.ok
    assert "plan does not include API access" in check.message


def test_a_sync_with_a_revoked_key_raises_a_platform_error(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    teachable.api_keys.clear()
    with pytest.raises(PlatformError, match="refused this API key"):
        sync(platform, teachable)


# ---- sync ----------------------------------------------------------------------------------------


def test_sync_reads_each_purchase_with_buyer_email_and_course(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    course = teachable.add_course("Sourdough Masterclass")
    plan = teachable.add_pricing_plan(course, 12_900, "EUR")
    buyer = teachable.add_user("Ava@Example.com", "Ava Johnson")
    when = datetime.now(UTC) - timedelta(days=3)
    txn = teachable.add_purchase(buyer, plan, at=when, tax=2_451)

    (record,) = sync(platform, teachable)

    assert record == PurchaseRecord(
        platform="teachable",
        platform_purchase_id=str(txn.id),
        amount=Money(12_900, "EUR"),
        purchased_at=record.purchased_at,
        email="ava@example.com",
        course_name="Sourdough Masterclass",
    )
    assert abs(record.purchased_at - when) < timedelta(milliseconds=1)
    assert record.purchased_at.tzinfo is not None


def test_sync_pages_through_everything_and_reports_progress(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    teachable.seed_random(47, days=29, seed=7)
    seen: list[tuple[int, int | None]] = []
    since = datetime.now(UTC) - SINCE_30_DAYS

    records = list(platform.fetch_purchases(credentials(teachable), since, lambda d, t: seen.append((d, t))))

    assert len(purchases(records)) == 47
    assert len({r.platform_purchase_id for r in purchases(records)}) == 47
    pages = teachable.requests_to("/v1/transactions")
    assert [r.query["page"] for r in pages] == ["1", "2", "3"]
    assert all(r.query["per"] == "20" for r in pages)
    assert seen[:3] == [(20, 47), (40, 47), (47, 47)]
    assert seen[-1] == (47, 47)


def test_sync_looks_each_user_course_and_plan_up_once(platform: TeachablePlatform, teachable: FakeTeachable) -> None:
    plan = teachable.add_pricing_plan(teachable.add_course("Watercolour"), 4_900)
    other = teachable.add_pricing_plan(teachable.add_course("Portraits"), 9_900)
    ava, liam = teachable.add_user("ava@example.com"), teachable.add_user("liam@example.com")
    for n in range(30):  # two pages, the same two buyers and two plans throughout
        teachable.add_purchase(ava if n % 2 else liam, plan if n % 3 else other, at=teachable.days_ago(n / 2 + 0.1))

    records = sync(platform, teachable)

    assert len(records) == 30
    assert len(teachable.requests_to(f"/v1/users/{ava.id}")) == 1
    assert len(teachable.requests_to(f"/v1/users/{liam.id}")) == 1
    assert len(teachable.requests_to("/v1/users/*")) == 2
    assert len(teachable.requests_to("/v1/pricing_plans/*")) == 2
    assert len(teachable.requests_to("/v1/courses/*")) == 2
    # A new sync is a new cache: a renamed course or changed email is read afresh.
    teachable.clear_log()
    sync(platform, teachable)
    assert len(teachable.requests_to("/v1/users/*")) == 2


@pytest.mark.parametrize("spelling", ["start", "start_date"])
def test_either_date_filter_spelling_narrows_the_window(
    platform: TeachablePlatform, teachable: FakeTeachable, spelling: str
) -> None:
    """Teachable's docs disagree on the parameter's name: the plugin sends both, so whichever the API
    honours narrows the answer (fewer pages, a smaller meta.total), not only our own filtering."""
    teachable.date_spellings = {spelling}
    plan = teachable.add_pricing_plan(teachable.add_course("Copywriting"), 49_700)
    buyer = teachable.add_user("old@example.com")
    for n in range(45):
        teachable.add_purchase(buyer, plan, at=teachable.days_ago(40 + n))  # older than the window
    recent = [teachable.add_purchase(buyer, plan, at=teachable.days_ago(n + 1)) for n in range(5)]
    seen: list[tuple[int, int | None]] = []

    records = list(
        platform.fetch_purchases(
            credentials(teachable), datetime.now(UTC) - SINCE_30_DAYS, lambda d, t: seen.append((d, t))
        )
    )

    assert {r.platform_purchase_id for r in records} == {str(t.id) for t in recent}
    (request,) = teachable.requests_to("/v1/transactions")  # one page: the API narrowed the window
    assert request.query["start"] == request.query["start_date"]
    assert seen[0] == (5, 5)  # meta.total counts the window only


def test_without_any_date_filter_the_answer_is_still_the_window(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    teachable.date_spellings = set()  # an API that ignores both spellings
    plan = teachable.add_pricing_plan(teachable.add_course("Copywriting"), 49_700)
    buyer = teachable.add_user("old@example.com")
    for n in range(25):
        teachable.add_purchase(buyer, plan, at=teachable.days_ago(40 + n))
    recent = teachable.add_purchase(buyer, plan, at=teachable.days_ago(2))

    records = sync(platform, teachable)

    assert [r.platform_purchase_id for r in records] == [str(recent.id)]
    assert len(teachable.requests_to("/v1/transactions")) == 2  # everything read, the window kept


def test_the_fake_narrows_the_window_by_itself_with_each_spelling(teachable: FakeTeachable) -> None:
    """The fake's filter is real: meta.total changes with either spelling, and not with an unknown one."""
    import requests

    plan = teachable.add_pricing_plan(teachable.add_course("C"), 100)
    buyer = teachable.add_user("b@example.com")
    for days in (1, 2, 10, 40, 50):
        teachable.add_purchase(buyer, plan, at=teachable.days_ago(days))
    cut = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    end = (datetime.now(UTC) - timedelta(days=1.5)).isoformat()

    def total(**params: str) -> int:
        answer = requests.get(
            f"{teachable.api_url}/transactions", params=params, headers={"apiKey": teachable.api_key}, timeout=5
        )
        return int(answer.json()["meta"]["total"])

    assert total() == 5
    assert total(start=cut) == total(start_date=cut) == 2
    assert total(start=cut, end=end) == total(start_date=cut, end_date=end) == 1
    assert total(begin=cut) == 5
    assert total(start_date=cut[:10]) in (2, 3)  # a bare date is its midnight


def test_429_and_500_are_retried_with_backoff(
    platform: TeachablePlatform, teachable: FakeTeachable, waits: list[float]
) -> None:
    plan = teachable.add_pricing_plan(teachable.add_course("C"), 100)
    teachable.add_purchase(teachable.add_user("b@example.com"), plan, at=teachable.days_ago(1))
    teachable.throttle_next(2, reset=3)
    teachable.fail_next(1, status=500)
    teachable.fail_next(1, status=503)

    records = sync(platform, teachable)

    assert len(records) == 1
    assert waits == [3.0, 3.0, 2.0, 4.0]  # RateLimit-Reset honoured, then doubling backoff


def test_retries_are_bounded(platform: TeachablePlatform, teachable: FakeTeachable, waits: list[float]) -> None:
    teachable.fail_next(20, status=502)
    with pytest.raises(PlatformError, match="not answering right now"):
        sync(platform, teachable)
    assert len(teachable.requests) == 5
    assert len(waits) == 4


def test_a_refund_and_a_partial_refund_become_refund_records(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    plan = teachable.add_pricing_plan(teachable.add_course("C"), 10_000)
    buyer = teachable.add_user("b@example.com")
    full = teachable.add_purchase(buyer, plan, at=teachable.days_ago(5))
    partial = teachable.add_purchase(buyer, plan, at=teachable.days_ago(4))
    kept = teachable.add_purchase(buyer, plan, at=teachable.days_ago(3))
    teachable.refund(full, at=teachable.days_ago(2))
    teachable.refund(partial, 2_500, at=teachable.days_ago(1))

    records = sync(platform, teachable)

    refunds = {r.platform_purchase_id: r for r in records if isinstance(r, RefundRecord)}
    assert set(refunds) == {str(full.id), str(partial.id)}
    assert refunds[str(full.id)].amount == Money(10_000, "USD")
    assert refunds[str(partial.id)].amount == Money(2_500, "USD")
    assert refunds[str(partial.id)].platform_refund_id == f"{partial.id}:refund"
    assert refunds[str(partial.id)].refunded_at <= datetime.now(UTC) - timedelta(hours=23)
    assert str(kept.id) in {r.platform_purchase_id for r in purchases(records)}


def test_a_deleted_user_or_plan_leaves_the_purchase_without_email_or_course(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    plan = teachable.add_pricing_plan(teachable.add_course("C"), 100)
    buyer = teachable.add_user("gone@example.com")
    teachable.add_purchase(buyer, plan, at=teachable.days_ago(1))
    del teachable.users[buyer.id]
    del teachable.pricing_plans[plan.id]

    (record,) = sync(platform, teachable)

    assert (record.email, record.course_name) == (None, None)


# ---- webhooks ------------------------------------------------------------------------------------


class _Receiver:
    """A stand-in for CourseSignal's webhook route: stores each body and answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/teachable/7/secret-token"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    receiving = _Receiver()
    yield receiving
    receiving.close()


def test_transaction_created_delivered_over_http_is_confirmed_through_the_api(
    platform: TeachablePlatform, teachable: FakeTeachable, receiver: _Receiver
) -> None:
    teachable.add_webhook(receiver.url, "Transaction.created")
    plan = teachable.add_pricing_plan(teachable.add_course("Sourdough Masterclass"), 12_900)
    txn = teachable.add_purchase(teachable.add_user("ava@example.com", "Ava"), plan)

    delivery = teachable.deliver("Transaction.created", txn)
    assert delivery.status == 200
    (body,) = receiver.bodies
    batch, records = read(platform, WebhookDelivery(headers={}, body=body), credentials(teachable))

    assert batch.event_id == str(json.loads(body)["id"])
    (record,) = records
    assert isinstance(record, PurchaseRecord)
    assert (record.platform_purchase_id, record.amount, record.email, record.course_name) == (
        str(txn.id),
        Money(12_900, "USD"),
        "ava@example.com",
        "Sourdough Masterclass",
    )
    (lookup,) = teachable.requests_to("/v1/transactions")
    assert lookup.query["user_id"] == str(txn.buyer.id)


def test_reading_a_delivery_calls_no_api_the_job_confirms_it(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    """read_webhook runs while Teachable waits for the answer: it only parses; the lookups happen in the job."""
    plan = teachable.add_pricing_plan(teachable.add_course("C"), 4_900)
    txn = teachable.add_purchase(teachable.add_user("ava@example.com"), plan)
    body = json.dumps(teachable.event_body("Transaction.created", txn)).encode()
    batch = platform.read_webhook(WebhookDelivery({}, body), credentials(teachable))
    assert (batch.records, len(batch.references)) == ((), 1)
    assert teachable.requests == []
    (record,) = platform.confirm_batch(credentials(teachable), batch)
    assert record.platform_purchase_id == str(txn.id)


def test_a_forged_amount_in_the_body_counts_for_nothing(platform: TeachablePlatform, teachable: FakeTeachable) -> None:
    plan = teachable.add_pricing_plan(teachable.add_course("C"), 4_900)
    txn = teachable.add_purchase(teachable.add_user("ava@example.com"), plan)
    body = teachable.event_body("Transaction.created", txn)
    body["object"].update(final_price=999_999, charge=999_999, user={"id": txn.buyer.id, "email": "x@evil.example"})

    _batch, records = read(platform, WebhookDelivery({}, json.dumps(body).encode()), credentials(teachable))

    (record,) = records
    assert isinstance(record, PurchaseRecord)
    assert (record.amount, record.email) == (Money(4_900, "USD"), "ava@example.com")


def test_an_event_for_a_transaction_the_api_does_not_know_yields_nothing(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    plan = teachable.add_pricing_plan(teachable.add_course("C"), 4_900)
    txn = teachable.add_purchase(teachable.add_user("ava@example.com"), plan)
    body = teachable.event_body("Transaction.created", txn)
    body["object"]["id"] = 999_999_999

    batch, records = read(platform, WebhookDelivery({}, json.dumps(body).encode()), credentials(teachable))

    assert records == ()
    assert batch.event_id == str(body["id"])


def test_transaction_refunded_gives_the_refund_with_its_purchase(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    plan = teachable.add_pricing_plan(teachable.add_course("C"), 10_000)
    txn = teachable.add_purchase(teachable.add_user("ava@example.com"), plan, at=teachable.days_ago(3))
    teachable.refund(txn, 3_000)
    body = json.dumps(teachable.event_body("Transaction.refunded", txn)).encode()

    _batch, records = read(platform, WebhookDelivery({}, body), credentials(teachable))

    purchase, refund = records
    assert isinstance(purchase, PurchaseRecord)
    assert isinstance(refund, RefundRecord)
    assert (refund.platform_purchase_id, refund.amount) == (str(txn.id), Money(3_000, "USD"))


def test_sale_created_for_a_gift_is_the_buyers_purchase(platform: TeachablePlatform, teachable: FakeTeachable) -> None:
    plan = teachable.add_pricing_plan(teachable.add_course("C"), 10_000)
    buyer, student = teachable.add_user("parent@example.com"), teachable.add_user("kid@example.com")
    txn = teachable.add_purchase(buyer, plan, student=student)
    body = teachable.event_body("Sale.created", txn.sale)
    del body["object"]["buyer"], body["object"]["transaction_id"]  # only the student and the sale named

    _batch, records = read(platform, WebhookDelivery({}, json.dumps(body).encode()), credentials(teachable))

    (record,) = records
    assert isinstance(record, PurchaseRecord)
    assert (record.platform_purchase_id, record.email) == (str(txn.id), "parent@example.com")
    (lookup,) = teachable.requests_to("/v1/transactions")
    assert lookup.query["pricing_plan_id"] == str(plan.id)
    assert "start" in lookup.query


def test_sale_created_for_a_free_enrolment_yields_nothing(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    plan = teachable.add_pricing_plan(teachable.add_course("Free mini-course"), 0)
    sale = teachable.enroll_free(teachable.add_user("free@example.com"), plan)
    body = json.dumps(teachable.event_body("Sale.created", sale)).encode()

    _batch, records = read(platform, WebhookDelivery({}, body), credentials(teachable))

    assert records == ()


def test_an_array_body_and_other_events_are_read(platform: TeachablePlatform, teachable: FakeTeachable) -> None:
    plan = teachable.add_pricing_plan(teachable.add_course("C"), 100)
    txn = teachable.add_purchase(teachable.add_user("a@example.com"), plan)
    money = teachable.event_body("Transaction.created", txn)
    other = {"id": 5, "type": "User.created", "created": "2026-11-20T10:00:00Z", "object": {"id": 1}}

    batch, records = read(platform, WebhookDelivery({}, json.dumps([money, other]).encode()), credentials(teachable))

    assert batch.event_id == f"{money['id']},5"
    assert len(records) == 1


def test_an_event_that_carries_no_money_needs_no_api_call(
    platform: TeachablePlatform, teachable: FakeTeachable
) -> None:
    body = {"id": 5, "type": "LectureProgress.created", "object": {}}
    batch, records = read(platform, WebhookDelivery({}, json.dumps(body).encode()), {"api_key": ""})
    assert (batch.event_id, records) == ("5", ())
    assert teachable.requests == []


def test_webhook_setup_is_verified_through_the_webhooks_list(
    platform: TeachablePlatform, teachable: FakeTeachable, receiver: _Receiver
) -> None:
    creds = credentials(teachable)
    check = platform.check_webhooks(creds, receiver.url)
    assert not check.ok
    assert "Settings > Webhooks > Add Webhook" in check.message

    teachable.add_webhook("https://elsewhere.example/hook", "Transaction.created")
    teachable.add_webhook(receiver.url, "Transaction.created")
    check = platform.check_webhooks(creds, receiver.url)
    assert not check.ok
    assert "Transaction.refunded" in check.message

    refunds = teachable.add_webhook(receiver.url + "/", "Transaction.refunded", workflow_state="failed")
    check = platform.check_webhooks(creds, receiver.url)
    assert not check.ok
    assert "could not verify" in check.message

    refunds.workflow_state = "verified"
    assert platform.check_webhooks(creds, receiver.url).ok
    assert platform.check_webhooks(credentials(teachable, key="wrong"), receiver.url).message.startswith(
        "Teachable refused"
    )


# ---- whatever the body, read_webhook answers a batch or WebhookRejected ---------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
# Mostly ids the seeded fake really has (so the API is called), sometimes anything.
_KNOWN_IDS = st.integers(min_value=1001, max_value=1120)
_IDS = st.one_of(_KNOWN_IDS, _KNOWN_IDS, _KNOWN_IDS, st.integers(-5, 2**70), st.text(max_size=22), st.none())
_TIMES = st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()) | _JSON
_OBJECT = st.fixed_dictionaries(
    {"id": _IDS},
    optional={
        "user_id": _IDS,
        "user": st.fixed_dictionaries({"id": _IDS}) | _JSON,
        "buyer": st.fixed_dictionaries({"id": _IDS}) | _JSON,
        "pricing_plan": st.fixed_dictionaries({"id": _IDS}) | _JSON,
        "pricing_plan_id": _IDS,
        "transaction_id": _IDS,
        "created_at": _TIMES,
        "purchased_at": _TIMES,
    },
)
_EVENT = st.fixed_dictionaries(
    {
        "id": _IDS,
        "type": st.sampled_from(["Transaction.created", "Transaction.refunded", "Sale.created", "User.created"]),
        "object": st.one_of(_OBJECT, _OBJECT, _OBJECT, _JSON),
    },
    optional={"created": _TIMES},
)


@pytest.fixture(scope="module")
def shared_teachable() -> Iterator[FakeTeachable]:
    with FakeTeachable() as fake:
        fake.seed_random(30, seed=11)
        yield fake


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_EVENT | st.lists(_EVENT, max_size=3) | _JSON)
def test_read_webhook_answers_a_batch_or_rejects_whatever_the_body(
    shared_teachable: FakeTeachable, document: object
) -> None:
    platform = TeachablePlatform(api_url=shared_teachable.api_url, http=RetryingHttp("Teachable", sleep=lambda s: None))
    body = json.dumps(document).encode()
    try:
        batch, records = read(platform, WebhookDelivery({}, body), credentials(shared_teachable))
    except WebhookRejected as rejected:
        outcome, records = str(rejected), []
    else:
        outcome, records = batch.event_id, list(records)
    assert outcome
    assert all(isinstance(r, PurchaseRecord | RefundRecord) for r in records)
