"""The Kajabi adapter against the local fake Kajabi: OAuth, checks, paging, faults, mapping, hooks."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.platforms import kajabi
from adapters.platforms.http import RetryingHttp
from adapters.platforms.kajabi.client import NO_PUBLIC_API, REJECTED_KEY, WRONG_SECRET
from adapters.platforms.kajabi.platform import KajabiPlatform
from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord, RefundRecord
from core.ports.platforms import CredentialsRejected, PlatformUnavailable, WebhookDelivery, WebhookRejected
from tests.fakes.kajabi import FakeKajabi

ALL_BUT_PURCHASES = {"view:transactions", "view:orders", "view:contacts", "view:form_submissions"}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeKajabi]:
    with FakeKajabi() as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def platform(fake: FakeKajabi, sleeps: Sleeps) -> KajabiPlatform:
    return KajabiPlatform(fake.base_url, http=RetryingHttp("Kajabi", sleep=sleeps))


def _connected(platform: KajabiPlatform, fake: FakeKajabi) -> dict[str, str]:
    credentials = {"client_id": fake.client_id, "client_secret": fake.client_secret}
    check = platform.check_credentials(credentials)
    assert check.ok, check.message
    credentials[check.choice_field] = check.choices[0].id
    return credentials


def _no_progress(done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
    return None


def test_the_builtin_is_registered_through_the_platform_hook_with_its_api_url(fake: FakeKajabi) -> None:
    manager = build_plugin_manager(builtins=(kajabi,), load_entry_points=False)
    registry = PlatformRegistry(manager, {"kajabi": fake.base_url})
    adapter = registry.get("kajabi")
    assert isinstance(adapter.inner, KajabiPlatform)
    fake.add_site("Academy")
    assert adapter.check_credentials({"client_id": fake.client_id, "client_secret": fake.client_secret}).ok
    assert fake.requests_to("/v1/oauth/token")


def test_good_credentials_get_a_token_and_offer_every_site(platform: KajabiPlatform, fake: FakeKajabi) -> None:
    fake.add_site("Mindful Money Academy")
    fake.add_site("Side Project")
    credentials = {"client_id": fake.client_id, "client_secret": fake.client_secret}
    check = platform.check_credentials(credentials)
    assert check.ok
    assert [c.label for c in check.choices] == ["Mindful Money Academy", "Side Project"]
    assert check.choice_field == "site_id"
    assert credentials["access_token"]
    assert credentials["refresh_token"]
    assert int(credentials["expires_at"]) > datetime.now(UTC).timestamp()
    token_request = fake.requests_to("/v1/oauth/token")[0].form()
    assert token_request["grant_type"] == "client_credentials"


def test_each_bad_credential_gets_its_own_sentence(platform: KajabiPlatform, fake: FakeKajabi) -> None:
    fake.add_site("Academy")
    wrong = platform.check_credentials({"client_id": fake.client_id, "client_secret": "not-the-secret"})
    assert (wrong.ok, wrong.message) == (False, WRONG_SECRET)

    limited = fake.create_key(ALL_BUT_PURCHASES)
    lacking = platform.check_credentials({"client_id": limited.client_id, "client_secret": limited.client_secret})
    assert not lacking.ok
    assert "lacks the “View purchases” permission" in lacking.message
    assert "Settings > Public API" in lacking.message

    fake.public_api_enabled = False
    plan = platform.check_credentials({"client_id": fake.client_id, "client_secret": fake.client_secret})
    assert (plan.ok, plan.message) == (False, NO_PUBLIC_API)


def test_an_unreachable_kajabi_is_said_so_after_bounded_retries(sleeps: Sleeps) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    platform = KajabiPlatform(f"http://127.0.0.1:{closed_port}", http=RetryingHttp("Kajabi", sleep=sleeps))
    check = platform.check_credentials({"client_id": "id", "client_secret": "secret"})
    assert not check.ok
    assert check.message.startswith("Kajabi could not be reached")
    assert sleeps == [0.5, 1.0, 2.0, 4.0]  # five attempts, exponential backoff between them


def test_purchases_map_into_the_domain_in_utc_with_hints_and_refunds(
    platform: KajabiPlatform, fake: FakeKajabi
) -> None:
    site = fake.add_site("Academy", utc_offset="-05:00")
    offer = fake.add_offer("Course Launch Blueprint", 49_700, "usd", site=site)
    buyer = fake.add_customer("Ava.Johnson@Example.com", "Ava Johnson", site=site)
    bought = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    purchase = fake.add_purchase(buyer, offer, created_at=bought, source="youtube", referrer="https://www.youtube.com/")
    refund = fake.refund(purchase, 10_000, created_at=bought + timedelta(days=1))
    old = fake.add_purchase(buyer, offer, created_at=datetime.now(UTC) - timedelta(days=40))
    fake.refund(old, created_at=datetime.now(UTC) - timedelta(days=39))
    credentials = _connected(platform, fake)
    records = list(platform.fetch_purchases(credentials, datetime.now(UTC) - timedelta(days=30), _no_progress))
    assert records == [
        PurchaseRecord(
            platform="kajabi",
            platform_purchase_id=purchase.id,
            amount=Money(49_700, "USD"),
            purchased_at=bought,
            email="ava.johnson@example.com",
            course_name="Course Launch Blueprint",
            source_hint="youtube",
            referrer_hint="https://www.youtube.com/",
        ),
        RefundRecord(
            platform="kajabi",
            platform_purchase_id=purchase.id,
            platform_refund_id=refund.id,
            amount=Money(10_000, "USD"),
            refunded_at=bought + timedelta(days=1),
        ),
    ]


def test_an_expired_token_mid_sync_is_refreshed_and_the_single_use_refresh_token_kept(
    platform: KajabiPlatform, fake: FakeKajabi
) -> None:
    fake.seed_random(120, seed=7)
    credentials = _connected(platform, fake)
    first_refresh = credentials["refresh_token"]
    seen_pages: list[int] = []

    def progress(done: int, total: int | None, *, pages: int | None = None, cursor: str | None = None) -> None:
        seen_pages.append(pages or 0)
        if len(seen_pages) == 2:
            fake.expire_tokens()  # Kajabi expires the token early, between two pages

    records = list(platform.fetch_purchases(credentials, datetime.now(UTC) - timedelta(days=30), progress))
    assert sum(isinstance(r, PurchaseRecord) for r in records) == 120
    grants = [r.form()["grant_type"] for r in fake.requests_to("/v1/oauth/token")]
    assert grants == ["client_credentials", "refresh_token"]
    assert credentials["refresh_token"] != first_refresh
    assert 401 in {r.status for r in fake.requests_to("/v1/purchases")}

    # A token past its stated expiry is renewed before it is sent; the dead refresh token is not reused.
    credentials["expires_at"] = "0"
    fake.clear_log()
    list(platform.fetch_purchases(credentials, datetime.now(UTC) - timedelta(hours=1), _no_progress))
    assert [r.form()["refresh_token"] for r in fake.requests_to("/v1/oauth/token")] != [first_refresh]
    assert {r.status for r in fake.requests if r.path != "/v1/oauth/token"} == {200}


def test_a_refused_refresh_falls_back_to_the_client_secret(platform: KajabiPlatform, fake: FakeKajabi) -> None:
    fake.add_site("Academy")
    credentials = _connected(platform, fake)
    credentials["refresh_token"] = "a-refresh-token-kajabi-never-issued"
    credentials["expires_at"] = "0"
    list(platform.fetch_purchases(credentials, datetime.now(UTC) - timedelta(days=1), _no_progress))
    grants = [r.form()["grant_type"] for r in fake.requests_to("/v1/oauth/token")]
    assert grants == ["client_credentials", "refresh_token", "client_credentials"]


def test_429_and_500_are_retried_honouring_retry_after(
    platform: KajabiPlatform, fake: FakeKajabi, sleeps: Sleeps
) -> None:
    fake.seed_random(60, seed=3)
    credentials = _connected(platform, fake)
    fake.throttle_next(2, retry_after=7)
    fake.fail_next(2, status=500)
    records = list(platform.fetch_purchases(credentials, datetime.now(UTC) - timedelta(days=30), _no_progress))
    assert sum(isinstance(r, PurchaseRecord) for r in records) == 60
    assert sleeps == [7.0, 7.0, 2.0, 4.0]  # Retry-After twice, then exponential backoff on the 500s
    fake.fail_next(5, status=503)
    with pytest.raises(PlatformUnavailable, match="HTTP 503"):
        list(platform.fetch_purchases(credentials, datetime.now(UTC) - timedelta(days=30), _no_progress))


def test_a_deleted_or_rotated_key_is_refused_with_what_to_do(platform: KajabiPlatform, fake: FakeKajabi) -> None:
    fake.add_site("Academy")
    credentials = _connected(platform, fake)
    fake.rotate_secret()
    with pytest.raises(CredentialsRejected) as refused:
        list(platform.fetch_purchases(credentials, datetime.now(UTC) - timedelta(days=1), _no_progress))
    assert str(refused.value) == REJECTED_KEY
    assert "reconnect" in REJECTED_KEY


def test_hooks_are_registered_on_the_chosen_site_and_removed(platform: KajabiPlatform, fake: FakeKajabi) -> None:
    fake.add_site("Other")
    chosen = fake.add_site("Academy")
    credentials = {"client_id": fake.client_id, "client_secret": fake.client_secret, "site_id": chosen.id}
    fake.hooks_prefixes = {"/api/v1"}  # the docs disagree on the path; the adapter tries both
    (hook_id,) = platform.register_webhooks(credentials, "https://app.example/webhooks/kajabi/1/token")
    (hook,) = fake.hooks
    assert (hook.id, hook.site.id, hook.event, hook.target_url) == (
        hook_id,
        chosen.id,
        "purchase",
        "https://app.example/webhooks/kajabi/1/token",
    )
    platform.remove_webhooks(credentials, [hook_id, "already-gone"])
    assert fake.hooks == []


def test_a_webhook_is_read_then_confirmed_through_the_api(platform: KajabiPlatform, fake: FakeKajabi) -> None:
    offer = fake.add_offer("Mini-Course", 2_700)
    purchase = fake.add_purchase(fake.add_customer("kai@example.com", "Kai"), offer)
    credentials = _connected(platform, fake)
    body = fake.webhook_body("purchase", purchase)
    body["payload"][0]["attributes"]["amount_in_cents"] = 1  # altered in transit
    batch = platform.read_webhook(WebhookDelivery({}, json.dumps(body).encode()), credentials)
    assert batch.event_id == f"purchase:{body['id']}"
    assert [r.amount for r in batch.records] == [Money(1, "USD")]
    forged = PurchaseRecord("kajabi", "999999", Money(100, "USD"), datetime.now(UTC), email="x@example.com")
    confirmed = platform.confirm_records(credentials, [*batch.records, forged])
    assert [(r.platform_purchase_id, r.amount, r.email) for r in confirmed] == [
        (purchase.id, Money(2_700, "USD"), "kai@example.com")
    ]
    other = platform.read_webhook(
        WebhookDelivery({}, json.dumps(fake.webhook_body("payment_succeeded", purchase)).encode()), credentials
    )
    assert other.records == ()
    with pytest.raises(WebhookRejected):
        platform.read_webhook(WebhookDelivery({}, b"not json"), credentials)
    with pytest.raises(WebhookRejected):
        platform.read_webhook(WebhookDelivery({}, b'{"event": "purchase"}'), credentials)
