"""The fake Teachable speaks the wire format the research describes (so the plugin's tests mean something)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.fakes.teachable import FakeTeachable
from tests.fakes.teachable.__main__ import main as run_standalone


@pytest.fixture
def teachable() -> Iterator[FakeTeachable]:
    with FakeTeachable(api_key="key-1") as fake:
        yield fake


def get(fake: FakeTeachable, path: str, key: str = "key-1", **params: Any) -> requests.Response:
    return requests.get(f"{fake.api_url}{path}", params=params, headers={"apikey": key}, timeout=5)


def test_auth_answers_401_for_a_bad_key_and_403_without_api_access(teachable: FakeTeachable) -> None:
    assert get(teachable, "/courses", key="nope").status_code == 401
    assert requests.get(f"{teachable.api_url}/courses", timeout=5).status_code == 401
    assert get(teachable, "/courses").status_code == 200
    teachable.api_access = False
    answer = get(teachable, "/courses")
    assert answer.status_code == 403
    assert "plan" in answer.json()["message"]


def test_transactions_are_paginated_with_meta(teachable: FakeTeachable) -> None:
    teachable.seed_random(45, seed=3)
    first = get(teachable, "/transactions").json()
    assert first["meta"] == {"total": 45, "page": 1, "from": 1, "to": 20, "per_page": 20, "number_of_pages": 3}
    last = get(teachable, "/transactions", page=3, per=50).json()  # per is clamped to 20
    assert (len(last["transactions"]), last["meta"]["from"], last["meta"]["to"]) == (5, 41, 45)
    everything = [t["id"] for p in (1, 2, 3) for t in get(teachable, "/transactions", page=p).json()["transactions"]]
    assert len(set(everything)) == 45
    assert get(teachable, "/transactions", page="x").status_code == 400


def test_resources_answer_in_their_documented_shapes(teachable: FakeTeachable) -> None:
    course = teachable.add_course("Sourdough Masterclass")
    plan = teachable.add_pricing_plan(course, 12_900, "EUR")
    user = teachable.add_user("ava@example.com", "Ava")
    txn = teachable.add_purchase(user, plan)
    assert get(teachable, f"/users/{user.id}").json()["email"] == "ava@example.com"  # not wrapped
    assert get(teachable, f"/courses/{course.id}").json()["course"]["name"] == "Sourdough Masterclass"
    shown = get(teachable, f"/pricing_plans/{plan.id}").json()["pricing_plan"]
    assert (shown["course_id"], shown["price"], shown["currency"]) == (course.id, 12_900, "EUR")
    assert get(teachable, "/courses").json()["courses"][0]["id"] == course.id
    assert get(teachable, "/transactions", user_id=user.id).json()["transactions"][0]["id"] == txn.id
    assert get(teachable, "/users/999").status_code == 404


def test_faults_are_served_in_order_then_the_api_recovers(teachable: FakeTeachable) -> None:
    teachable.throttle_next(1, reset=7)
    teachable.fail_next(1, status=503)
    throttled = get(teachable, "/courses")
    assert throttled.status_code == 429
    assert throttled.headers["RateLimit-Reset"] == "7"
    assert throttled.json() == {"message": "API rate limit exceeded"}
    assert get(teachable, "/courses").status_code == 503
    assert get(teachable, "/courses").status_code == 200
    assert [r.status for r in teachable.requests] == [429, 503, 200]


def test_webhooks_list_what_the_creator_added_and_the_events_sent(teachable: FakeTeachable) -> None:
    hook = teachable.add_webhook("http://127.0.0.1:9/hook", "Transaction.created")
    plan = teachable.add_pricing_plan(teachable.add_course("C"), 100)
    txn = teachable.add_purchase(teachable.add_user("a@example.com"), plan)
    delivery = teachable.deliver("Transaction.created", txn, as_array=True)  # nobody listens on port 9
    assert delivery.status == 0
    (body,) = delivery.json()
    assert isinstance(body, dict)
    assert (body["type"], body["object"]["id"], body["object"]["user"]["email"]) == (
        "Transaction.created",
        txn.id,
        "a@example.com",
    )
    (listed,) = get(teachable, "/webhooks").json()["webhooks"]
    assert listed == {
        "id": hook.id,
        "workflow_state": "verified",
        "url": "http://127.0.0.1:9/hook",
        "event_trigger": "Transaction.created",
        "webhook_events_count": 1,
    }
    (event,) = get(teachable, f"/webhooks/{hook.id}/events").json()["events"]
    assert (event["id"], event["object_id"], event["response_http_status"]) == (body["id"], txn.id, 0)
    with pytest.raises(ValueError, match="no webhook registered"):
        teachable.deliver("Transaction.refunded", txn)


def test_the_standalone_server_parses_its_options(monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    started: list[FakeTeachable] = []
    monkeypatch.setattr(FakeTeachable, "serve_forever", lambda self: started.append(self))
    run_standalone(["--port", "0", "--seed", "12", "--random-seed", "1", "--api-key", "k", "--no-api-access"])
    (fake,) = started
    try:
        assert (len(fake.transactions), fake.api_key, fake.api_access) == (12, "k", False)
        assert "apiKey: k" in capsys.readouterr().out
    finally:
        fake.stop()
    assert json.dumps(fake.transactions[next(iter(fake.transactions))].to_json())
