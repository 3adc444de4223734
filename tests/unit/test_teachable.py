"""The Teachable plugin without a network: discovery, webhook parsing, API answers to records."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from adapters.platforms.hookspecs import hookimpl
from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.ports.platforms import PlatformAdapter, WebhookAuth, WebhookDelivery, WebhookRejected
from plugins.teachable import TeachablePlatform, coursesignal_platforms
from plugins.teachable.deliveries import parse_delivery
from plugins.teachable.platform import records_for
from plugins.teachable.schemas import PricingPlanSchema, TransactionSchema, UserSchema

TRANSACTION = {
    "id": 88001,
    "user_id": 55555,
    "pricing_plan_id": 7001,
    "sale_id": 99001,
    "created_at": "2026-11-20T10:00:00.000Z",
    "purchased_at": "2026-11-20T10:00:01.000Z",
    "charge": 5390,
    "final_price": 4900,
    "tax_charge": 490,
    "currency": "usd",
    "status": "paid",
    "refunded_at": None,
    "amount_refunded": 0,
    "a_field_teachable_added_later": {"anything": True},
}


def _event(kind: str, obj: Any, **extra: Any) -> bytes:
    return json.dumps({"id": 314, "type": kind, "created": "2026-11-20T10:00:02Z", "object": obj, **extra}).encode()


# ---- discovery -----------------------------------------------------------------------------------


def test_teachable_is_found_through_its_entry_point() -> None:
    registry = PlatformRegistry(build_plugin_manager())
    platform = registry.get("teachable")
    assert isinstance(platform.inner, TeachablePlatform)
    assert platform.display_name == "Teachable"
    assert platform.webhook_auth is WebhookAuth.URL_TOKEN
    assert [f.name for f in platform.credential_fields] == ["api_key"]
    assert platform.credential_fields[0].secret


def test_the_hook_returns_platform_adapters() -> None:
    assert hookimpl  # the same marker the plugin imports through `coursesignal`
    (platform,) = coursesignal_platforms({})
    assert isinstance(platform, PlatformAdapter)


def test_the_operator_points_teachable_at_another_host_and_a_creator_cannot() -> None:
    (platform,) = coursesignal_platforms({"teachable": "http://127.0.0.1:9/v1"})
    assert isinstance(platform, TeachablePlatform)
    client = platform._client({"api_key": "k", "api_url": "http://169.254.169.254"}, None)  # type: ignore[arg-type]
    assert client._api_url == "http://127.0.0.1:9/v1"


def test_the_plugin_imports_only_the_public_api() -> None:
    from pathlib import Path

    package = Path(__file__).parents[2] / "plugins" / "teachable"
    for module in package.glob("*.py"):
        text = module.read_text()
        for floor in ("core", "adapters"):
            assert f"from {floor}" not in text, module
            assert f"import {floor}" not in text, module


# ---- API answers ---------------------------------------------------------------------------------


def test_a_transaction_is_read_in_minor_units_and_utc() -> None:
    transaction = TransactionSchema().load(TRANSACTION)
    assert (transaction.price, transaction.currency) == (4900, "USD")
    assert transaction.purchased_at == datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC)
    (record,) = records_for(transaction, "ava@example.com", "Course")
    assert record == PurchaseRecord(
        "teachable", "88001", Money(4900, "USD"), transaction.purchased_at, "ava@example.com", "Course"
    )


def test_charge_is_the_amount_only_without_a_final_price() -> None:
    transaction = TransactionSchema().load({**TRANSACTION, "final_price": None})
    assert transaction.price == 5390


@pytest.mark.parametrize(
    "change",
    [
        {"final_price": 49.5, "charge": None},
        {"final_price": "4900", "charge": None},
        {"final_price": None, "charge": None},
        {"final_price": -1},
        {"currency": "dollars"},
        {"created_at": "yesterday"},
        {"id": True},
        {"user_id": None},
    ],
)
def test_an_unreadable_transaction_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TransactionSchema().load({**TRANSACTION, **change})


def test_a_refund_is_one_record_per_transaction_capped_at_the_price() -> None:
    transaction = TransactionSchema().load(
        {**TRANSACTION, "amount_refunded": 99_999, "refunded_at": "2026-11-21T08:00:00-05:00"}
    )
    _, refund = records_for(transaction, None, None)
    assert refund == RefundRecord(
        "teachable", "88001", "88001:refund", Money(4900, "USD"), datetime(2026, 11, 21, 13, tzinfo=UTC)
    )


def test_users_and_plans_are_read_wrapped_or_not() -> None:
    bare = UserSchema().load({"id": 1, "email": " Ava@Example.COM ", "name": "Ava", "courses": []})
    wrapped = UserSchema().load({"user": {"id": 1, "email": "ava@example.com", "name": "Ava"}})
    assert bare == wrapped
    assert bare.email == "ava@example.com"
    assert UserSchema().load({"id": 2, "email": "not an email"}).email is None
    plan = PricingPlanSchema().load({"pricing_plan": {"id": 3, "name": "Full", "course_id": "12", "price": 1}})
    assert (plan.id, plan.name, plan.course_id) == (3, "Full", 12)


# ---- webhook bodies ------------------------------------------------------------------------------


def test_a_transaction_event_keeps_only_ids_and_time() -> None:
    (event,) = parse_delivery(_event("Transaction.created", {**TRANSACTION, "user": {"id": 55555, "email": "x"}}))
    assert (event.id, event.type, event.transaction_id, event.user_id) == (314, "Transaction.created", 88001, 55555)
    assert event.happened_at == datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC)


def test_a_sale_event_keeps_sale_plan_and_buyer() -> None:
    body = {"id": "77", "user": {"id": 5}, "buyer": {"id": 6}, "pricing_plan": {"id": 8}, "created_at": "bad"}
    (event,) = parse_delivery(_event("Sale.created", body))
    assert (event.sale_id, event.user_id, event.pricing_plan_id, event.transaction_id) == (77, 6, 8, None)
    assert event.happened_at == datetime(2026, 11, 20, 10, 0, 2, tzinfo=UTC)  # the envelope's time


def test_ids_may_be_quoted_and_other_events_are_kept_without_reading_the_object() -> None:
    (event,) = parse_delivery(_event("Comment.created", ["whatever"], id="2024"))
    assert (event.id, event.carries_money) == (2024, False)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"{'id': 1}", "not JSON"),
        (b'{"id": 1, "type": "Transaction.created", "object": {"id": NaN}}', "not JSON"),
        (b"[]", "empty list"),
        (b"42", "not a JSON object"),
        (b'{"type": "Transaction.created", "object": {"id": 1}}', "id:"),
        (b'{"id": 0, "type": "Transaction.created", "object": {"id": 1}}', "id: Not a Teachable id"),
        (b'{"id": 1, "type": "", "object": {}}', "type:"),
        (b'{"id": 1, "type": "Transaction.created"}', "object:"),
        (b'{"id": 1, "type": "Transaction.created", "object": {"user_id": 2}}', "object.id:"),
        (b'{"id": 1, "type": "Transaction.refunded", "object": {"id": 1.5}}', "object.id:"),
        (b'{"id": 1, "type": "Sale.created", "object": {"id": 3, "user": {"id": "x"}}}', "object.user.id:"),
        (b'[{"id": 1, "type": "User.created", "object": {}}, 7]', "Event 2:"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"pad": "' + b"x" * (1024 * 1024) + b'"}', "larger than 1 MB"),
    ],
)
def test_a_malformed_body_is_rejected_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected, match=reason):
        parse_delivery(body)


def test_read_webhook_rejects_before_calling_teachable() -> None:
    with pytest.raises(WebhookRejected):
        TeachablePlatform(api_url="http://127.0.0.1:9/v1").read_webhook(WebhookDelivery({}, b"nope"), {})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)
EVENT_TYPES = st.sampled_from(["Transaction.created", "Transaction.refunded", "Sale.created", "User.created"])
ALMOST_AN_EVENT = st.fixed_dictionaries(
    {
        "id": JSON | st.integers(),
        "type": EVENT_TYPES | JSON,
        "object": JSON
        | st.dictionaries(
            st.sampled_from(
                ["id", "user_id", "user", "buyer", "pricing_plan", "pricing_plan_id", "transaction_id", "created_at"]
            ),
            JSON | st.integers(min_value=1) | st.fixed_dictionaries({"id": JSON}),
        ),
    },
    optional={"created": JSON},
)


@settings(max_examples=200, deadline=None)
@given(document=JSON | ALMOST_AN_EVENT | st.lists(ALMOST_AN_EVENT, max_size=3))
def test_arbitrary_json_never_raises_anything_but_webhook_rejected(document: Any) -> None:
    try:
        events = parse_delivery(json.dumps(document).encode())
    except WebhookRejected as rejected:
        reason = str(rejected)
        events = ()
    else:
        reason = "accepted"
    assert reason
    for event in events:
        assert event.id > 0
        assert event.type


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_webhook_rejected(body: bytes) -> None:
    with contextlib.suppress(WebhookRejected):
        parse_delivery(body)
