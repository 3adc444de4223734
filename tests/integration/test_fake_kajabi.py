"""The Kajabi fake speaks Kajabi's documented wire format, exercised over real HTTP with urllib."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.fakes.kajabi import FakeKajabi

JSON_API = "application/vnd.api+json"


# --------------------------------------------------------------------------------------------------
# Tiny HTTP client
# --------------------------------------------------------------------------------------------------
class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    method: str, url: str, *, token: str | None = None, form: dict[str, str] | None = None, body: Any = None
) -> Answer:
    headers = {"Accept": JSON_API}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = JSON_API
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - local http
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())


def get_token(kajabi: FakeKajabi, client_id: str | None = None, client_secret: str | None = None) -> dict[str, Any]:
    answer = call(
        "POST",
        f"{kajabi.base_url}/v1/oauth/token",
        form={
            "grant_type": "client_credentials",
            "client_id": client_id or kajabi.client_id,
            "client_secret": client_secret or kajabi.client_secret,
        },
    )
    assert answer.status == 200, answer.body
    return dict(answer.json())


def hook_body(site_id: str, target_url: str, event: str = "purchase") -> dict[str, Any]:
    return {
        "data": {
            "type": "hooks",
            "attributes": {"target_url": target_url, "event": event},
            "relationships": {"site": {"data": {"id": site_id, "type": "sites"}}},
        }
    }


@pytest.fixture
def kajabi() -> Iterator[FakeKajabi]:
    with FakeKajabi() as fake:
        yield fake


@pytest.fixture
def token(kajabi: FakeKajabi) -> str:
    return str(get_token(kajabi)["access_token"])


# --------------------------------------------------------------------------------------------------
# OAuth
# --------------------------------------------------------------------------------------------------
def test_client_credentials_grant_returns_bearer_pair(kajabi: FakeKajabi) -> None:
    answer = call(
        "POST",
        f"{kajabi.base_url}/v1/oauth/token",
        form={"grant_type": "client_credentials", "client_id": kajabi.client_id, "client_secret": kajabi.client_secret},
    )

    assert answer.status == 200
    assert answer.headers["content-type"].startswith("application/json")
    pair = answer.json()
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 7200
    me = call("GET", f"{kajabi.base_url}/v1/me", token=pair["access_token"])
    assert me.status == 200
    assert me.headers["content-type"].startswith(JSON_API)
    assert set(me.json()["data"]["attributes"]) == {"initials", "name", "email", "role_level"}


def test_bad_client_secret_is_invalid_client(kajabi: FakeKajabi) -> None:
    answer = call(
        "POST",
        f"{kajabi.base_url}/v1/oauth/token",
        form={"grant_type": "client_credentials", "client_id": kajabi.client_id, "client_secret": "nope"},
    )

    assert answer.status == 401
    assert answer.json() == {"error": "invalid_client"}


def test_refresh_token_grant_issues_a_new_working_pair(kajabi: FakeKajabi) -> None:
    first = get_token(kajabi)

    answer = call(
        "POST",
        f"{kajabi.base_url}/v1/oauth/token",
        form={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )

    assert answer.status == 200
    second = answer.json()
    assert second["access_token"] != first["access_token"]
    assert call("GET", f"{kajabi.base_url}/v1/me", token=second["access_token"]).status == 200
    reused = call(
        "POST",
        f"{kajabi.base_url}/v1/oauth/token",
        form={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert reused.status == 400
    assert reused.json() == {"error": "invalid_grant"}


def test_expired_or_unknown_token_gets_401_everywhere(kajabi: FakeKajabi) -> None:
    pair = get_token(kajabi)
    assert call("GET", f"{kajabi.base_url}/v1/sites", token=pair["access_token"]).status == 200

    assert kajabi.expire_tokens() == 1

    for path in ("/v1/sites", "/v1/purchases", "/v1/transactions", "/v1/hooks", "/api/v1/hooks"):
        answer = call("GET", f"{kajabi.base_url}{path}", token=pair["access_token"])
        assert answer.status == 401, path
        assert answer.json()["errors"][0]["status"] == "401"
    assert call("GET", f"{kajabi.base_url}/v1/sites", token="garbage").status == 401
    assert call("GET", f"{kajabi.base_url}/v1/sites").status == 401
    refreshed = call(
        "POST",
        f"{kajabi.base_url}/v1/oauth/token",
        form={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    assert refreshed.status == 200


def test_short_token_lifetime_expires_with_the_clock(kajabi: FakeKajabi) -> None:
    kajabi.token_lifetime = 60
    pair = get_token(kajabi)
    assert pair["expires_in"] == 60

    kajabi.advance_clock(61)

    assert call("GET", f"{kajabi.base_url}/v1/me", token=pair["access_token"]).status == 401


def test_revoke_invalidates_both_tokens(kajabi: FakeKajabi) -> None:
    pair = get_token(kajabi)

    answer = call(
        "POST", f"{kajabi.base_url}/v1/oauth/revoke", token=pair["access_token"], form={"token": pair["refresh_token"]}
    )

    assert answer.status == 200
    assert call("GET", f"{kajabi.base_url}/v1/me", token=pair["access_token"]).status == 401
    assert (
        call(
            "POST",
            f"{kajabi.base_url}/v1/oauth/token",
            form={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
        ).status
        == 400
    )


def test_rotating_the_secret_kills_tokens_and_old_secret(kajabi: FakeKajabi) -> None:
    old_secret = kajabi.client_secret
    pair = get_token(kajabi)

    new_secret = kajabi.rotate_secret()

    assert call("GET", f"{kajabi.base_url}/v1/me", token=pair["access_token"]).status == 401
    stale = call(
        "POST",
        f"{kajabi.base_url}/v1/oauth/token",
        form={"grant_type": "client_credentials", "client_id": kajabi.client_id, "client_secret": old_secret},
    )
    assert stale.status == 401
    assert get_token(kajabi, client_secret=new_secret)["token_type"] == "Bearer"


# --------------------------------------------------------------------------------------------------
# JSON:API lists, pagination, filters, includes
# --------------------------------------------------------------------------------------------------
def test_pagination_follows_links_next_across_pages(kajabi: FakeKajabi, token: str) -> None:
    kajabi.seed_random(57, days=30, seed=7)
    url: str | None = f"{kajabi.base_url}/v1/purchases?page[size]=10&sort=-created_at"
    seen: list[str] = []
    metas: list[dict[str, int]] = []

    while url:
        answer = call("GET", url, token=token)
        assert answer.status == 200
        assert answer.headers["content-type"].startswith(JSON_API)
        document = answer.json()
        seen.extend(row["id"] for row in document["data"])
        metas.append(document["meta"])
        assert document["links"]["first"].startswith(kajabi.base_url + "/v1/purchases?")
        url = document["links"]["next"]

    assert len(seen) == len(set(seen)) == 57
    assert [m["current_page"] for m in metas] == [1, 2, 3, 4, 5, 6]
    assert {m["total_pages"] for m in metas} == {6}
    assert {m["total_count"] for m in metas} == {57}
    stamps = [p.created_at for p in sorted(kajabi.purchases, key=lambda p: p.created_at, reverse=True)]
    assert stamps == sorted(stamps, reverse=True)
    assert len(kajabi.requests_to("/v1/purchases", "GET")) == 6
    assert kajabi.requests_to("/v1/purchases")[-1].param("page[number]") == "6"


def test_page_size_defaults_to_25_and_is_clamped(kajabi: FakeKajabi, token: str) -> None:
    kajabi.seed_random(130, seed=3)

    default = call("GET", f"{kajabi.base_url}/v1/purchases", token=token).json()
    huge = call("GET", f"{kajabi.base_url}/v1/purchases?page[size]=1000", token=token).json()

    assert len(default["data"]) == 25
    assert len(huge["data"]) == 100
    assert huge["meta"]["total_pages"] == 2


def test_purchase_filters_narrow_the_window(kajabi: FakeKajabi, token: str) -> None:
    now = datetime.now(UTC)
    main_site = kajabi.add_site("Main School")
    other_site = kajabi.add_site("Second School")
    offer = kajabi.add_offer("Course Launch Blueprint", 49_700, "USD", site=main_site)
    other_offer = kajabi.add_offer("Other", 1_000, "EUR", site=other_site)
    ava = kajabi.add_customer("ava@example.com", "Ava Johnson")
    old = kajabi.add_purchase(ava, offer, 49_700, "USD", now - timedelta(days=40))
    recent = kajabi.add_purchase(
        ava, offer, 39_760, "USD", now - timedelta(days=3), source="youtube", referrer="https://www.youtube.com/"
    )
    elsewhere = kajabi.add_purchase(ava, other_offer, 1_000, "EUR", now - timedelta(days=1))
    since = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")

    windowed = call("GET", f"{kajabi.base_url}/v1/purchases?filter[created_at_gte]={since}", token=token).json()
    on_site = call(
        "GET",
        f"{kajabi.base_url}/v1/purchases?filter[site_id]={offer.site.id}"
        f"&filter[created_at_gte]={since}&include=customer,offer",
        token=token,
    ).json()

    assert {r["id"] for r in windowed["data"]} == {recent.id, elsewhere.id}
    assert [r["id"] for r in on_site["data"]] == [recent.id]
    attrs = on_site["data"][0]["attributes"]
    assert attrs["amount_in_cents"] == 39_760
    assert attrs["currency"] == "USD"
    assert attrs["referrer"] == "https://www.youtube.com/"
    assert attrs["source"] == "youtube"
    assert attrs["created_at"].endswith("Z")
    assert len(attrs["created_at"]) == len("2025-07-31T16:59:27.580Z")
    assert on_site["data"][0]["relationships"]["customer"]["data"] == {"id": ava.id, "type": "customers"}
    assert {(r["type"], r["id"]) for r in on_site["included"]} == {("customers", ava.id), ("offers", offer.id)}
    assert old.id not in {r["id"] for r in windowed["data"]}


def test_transactions_date_filters_refunds_and_site_local_offsets(kajabi: FakeKajabi, token: str) -> None:
    site = kajabi.add_site("Eastern School", utc_offset="-05:00")
    offer = kajabi.add_offer("Mini-Course", 2_700, site=site)
    buyer = kajabi.add_customer("kai@example.com", "Kai Tanaka", site=site)
    bought = kajabi.add_purchase(buyer, offer, created_at="2026-03-10T15:00:00Z")
    late_evening = kajabi.add_purchase(buyer, offer, created_at="2026-03-12T03:00:00Z")  # 11 March, 22:00 -05:00
    refund = kajabi.refund(bought, created_at="2026-03-11T12:00:00Z")

    answer = call(
        "GET",
        f"{kajabi.base_url}/v1/transactions?filter[site_id]={site.id}"
        "&filter[start_date]=2026-03-11&filter[end_date]=2026-03-11&include=customer,purchases",
        token=token,
    )

    document = answer.json()
    by_id = {row["id"]: row for row in document["data"]}
    assert set(by_id) == {refund.id, late_evening.transactions[0].id}
    refund_row = by_id[refund.id]["attributes"]
    assert refund_row["action"] == "refund"
    assert refund_row["amount_in_cents"] == -2_700
    assert refund_row["formatted_amount"] == "-$27.00"
    assert refund_row["created_at"] == "2026-03-11T07:00:00.000-05:00"
    assert by_id[refund.id]["relationships"]["purchases"]["data"] == [{"id": bought.id, "type": "purchases"}]
    assert {r["type"] for r in document["included"]} == {"customers", "purchases"}
    assert document["data"][0]["attributes"]["created_at"] >= document["data"][1]["attributes"]["created_at"]
    purchase = call("GET", f"{kajabi.base_url}/v1/purchases/{bought.id}", token=token).json()["data"]
    assert purchase["attributes"]["deactivated_at"] == "2026-03-11T07:00:00.000-05:00"
    assert call("GET", f"{kajabi.base_url}/v1/transactions/{refund.id}", token=token).status == 200
    assert call("GET", f"{kajabi.base_url}/v1/purchases/999", token=token).status == 404


def test_customers_offers_and_sites_endpoints(kajabi: FakeKajabi, token: str) -> None:
    kajabi.seed_random(5, seed=1)
    customer = kajabi.purchases[0].customer

    sites = call("GET", f"{kajabi.base_url}/v1/sites", token=token).json()
    offers = call("GET", f"{kajabi.base_url}/v1/offers", token=token).json()
    one = call("GET", f"{kajabi.base_url}/v1/customers/{customer.id}", token=token).json()

    assert sites["data"][0]["type"] == "sites"
    assert "subdomain" in sites["data"][0]["attributes"]
    assert {o["attributes"]["title"] for o in offers["data"]} >= {"VIP Mastermind"}
    assert one["data"]["attributes"]["email"] == customer.email
    assert one["data"]["attributes"]["created_at"].endswith("-05:00")


# --------------------------------------------------------------------------------------------------
# Faults, permissions, plans
# --------------------------------------------------------------------------------------------------
def test_injected_429_then_500_then_recovery(kajabi: FakeKajabi, token: str) -> None:
    kajabi.throttle_next(2)
    kajabi.fail_next(1)
    url = f"{kajabi.base_url}/v1/purchases"

    answers = [call("GET", url, token=token) for _ in range(4)]

    assert [a.status for a in answers] == [429, 429, 500, 200]
    assert answers[0].headers["retry-after"] == "1"
    assert answers[0].json()["errors"][0]["status"] == "429"
    assert [r.status for r in kajabi.requests_to("/v1/purchases")] == [429, 429, 500, 200]


def test_key_without_view_purchases_is_forbidden_there_only(kajabi: FakeKajabi) -> None:
    limited = kajabi.create_key({"view:transactions"})
    pair = get_token(kajabi, limited.client_id, limited.client_secret)
    site = kajabi.add_site()

    purchases = call("GET", f"{kajabi.base_url}/v1/purchases", token=pair["access_token"])
    transactions = call("GET", f"{kajabi.base_url}/v1/transactions", token=pair["access_token"])
    purchase_hook = call(
        "POST",
        f"{kajabi.base_url}/v1/hooks",
        token=pair["access_token"],
        body=hook_body(site.id, "https://app.example.com/hooks/k/x"),
    )

    assert purchases.status == 403
    error = purchases.json()["errors"][0]
    assert error["status"] == "403"
    assert error["title"] == "Forbidden"
    assert "view:purchases" in error["detail"]
    assert transactions.status == 200
    assert purchase_hook.status == 403


def test_plan_without_public_api_gets_403_after_the_token(kajabi: FakeKajabi) -> None:
    kajabi.public_api_enabled = False

    pair = get_token(kajabi)

    for path in ("/v1/me", "/v1/sites", "/v1/purchases", "/v1/hooks"):
        assert call("GET", f"{kajabi.base_url}{path}", token=pair["access_token"]).status == 403, path


# --------------------------------------------------------------------------------------------------
# Hooks and webhook delivery
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["/v1", "/api/v1"])
def test_hooks_crud(kajabi: FakeKajabi, token: str, prefix: str) -> None:
    site = kajabi.add_site()
    base = f"{kajabi.base_url}{prefix}/hooks"

    created = call("POST", base, token=token, body=hook_body(site.id, "https://app.example.com/hooks/k/abc"))
    payment = call(
        "POST", base, token=token, body=hook_body(site.id, "https://app.example.com/hooks/k/abc", "payment_succeeded")
    )
    bad_event = call("POST", base, token=token, body=hook_body(site.id, "https://x.example.com", "offer.refunded"))
    bad_site = call("POST", base, token=token, body=hook_body("404", "https://x.example.com"))

    assert created.status == 201
    assert payment.status == 201
    hook = created.json()["data"]
    assert hook["type"] == "hooks"
    assert hook["attributes"]["event"] == "purchase"
    assert bad_event.status == 422
    assert bad_event.json()["errors"][0]["source"]["pointer"] == "/data/attributes/event"
    assert bad_site.status == 422
    listed = call("GET", f"{base}?filter[event_eq]=purchase", token=token).json()
    assert [h["id"] for h in listed["data"]] == [hook["id"]]
    assert call("GET", f"{base}/{hook['id']}", token=token).json()["data"]["id"] == hook["id"]
    assert call("DELETE", f"{base}/{hook['id']}", token=token).status == 204
    assert call("DELETE", f"{base}/{hook['id']}", token=token).status == 404
    assert len(call("GET", base, token=token).json()["data"]) == 1


def test_hooks_path_can_be_restricted_to_one_prefix(kajabi: FakeKajabi, token: str) -> None:
    kajabi.hooks_prefixes = {"/api/v1"}

    assert call("GET", f"{kajabi.base_url}/v1/hooks", token=token).status == 404
    assert call("GET", f"{kajabi.base_url}/api/v1/hooks", token=token).status == 200


class _Receiver:
    """A tiny local app endpoint that records webhook POSTs."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[Any] = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/kajabi/secret-token"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    app = _Receiver()
    yield app
    app.close()


def test_purchase_webhook_delivery_matches_kajabi_payload(kajabi: FakeKajabi, token: str, receiver: _Receiver) -> None:
    offer = kajabi.add_offer("Course Launch Blueprint", 49_700)
    buyer = kajabi.add_customer("ava@example.com", "Ava Johnson")
    purchase = kajabi.add_purchase(buyer, offer, referrer="https://www.youtube.com/")
    created = call("POST", f"{kajabi.base_url}/v1/hooks", token=token, body=hook_body(offer.site.id, receiver.url))
    assert created.status == 201

    assert kajabi.deliver("purchase", purchase.id) == [200]
    assert kajabi.deliver("payment_succeeded", purchase) == []  # no hook for that event

    body = receiver.bodies[0]
    assert set(body) == {"id", "event", "payload"}
    assert body["event"] == "purchase"
    assert [r["type"] for r in body["payload"]] == ["purchases", "offers", "customers"]
    purchase_row, offer_row, customer_row = body["payload"]
    assert purchase_row["id"] == purchase.id
    assert purchase_row["attributes"]["amount_in_cents"] == 49_700
    assert purchase_row["attributes"]["referrer"] == "https://www.youtube.com/"
    assert purchase_row["relationships"]["offer"]["data"] == {"id": offer.id, "type": "offers"}
    assert offer_row["attributes"]["title"] == "Course Launch Blueprint"
    assert customer_row["attributes"]["email"] == "ava@example.com"
    assert kajabi.deliveries[0].status == 200
    assert kajabi.webhook_body("purchase", purchase)["id"] == body["id"]  # stable per event+resource


def test_payment_succeeded_delivery_and_failing_app(kajabi: FakeKajabi, receiver: _Receiver) -> None:
    kajabi.seed_random(4, seed=2)
    kajabi.add_hook(receiver.url, "payment_succeeded")
    receiver.status = 500

    statuses = kajabi.deliver_all("payment_succeeded")

    charges = [t for t in kajabi.transactions if t.action == "charge"]
    assert statuses == [500] * len(charges)
    first = receiver.bodies[0]
    assert [r["type"] for r in first["payload"]] == ["transactions", "customers"]
    assert first["payload"][0]["attributes"]["action"] == "charge"
    assert first["payload"][0]["attributes"]["state"] == "succeeded"


def test_sample_endpoint_and_unreachable_target(kajabi: FakeKajabi, token: str) -> None:
    sample = call("GET", f"{kajabi.base_url}/v1/hooks/purchase_sample", token=token).json()
    offer = kajabi.add_offer("Mini", 2_700)
    purchase = kajabi.add_purchase(kajabi.add_customer("z@example.com", "Zoe Chen"), offer)
    kajabi.add_hook("http://127.0.0.1:9/nowhere", "purchase")

    assert [r["type"] for r in sample] == ["purchases", "offers", "customers"]
    assert sample[1]["attributes"]["title"] == "Kajabi Test Offer"
    assert kajabi.deliver("purchase", purchase) == [0]
    assert kajabi.deliveries[-1].error
