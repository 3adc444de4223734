"""Kajabi end to end: the app served over HTTP, the fake Kajabi delivering to it, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import logging
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask.testing import FlaskClient

from adapters.persistence import tables as t
from adapters.platforms.kajabi.client import REJECTED_KEY, WRONG_SECRET
from adapters.security.fernet_cipher import FernetTokenCipher, new_encryption_key
from core.domain.connections import ConnectionStatus
from core.services.connections import POLL_ALL_TASK
from coursesignal.cli import main
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.fakes.kajabi import FakeKajabi
from tests.live_app import PAGE_SIZE, Live, serve_app
from tests.web_session import post_form


@pytest.fixture
def fake() -> Iterator[FakeKajabi]:
    with FakeKajabi() as server:
        yield server


@pytest.fixture
def live(database_url: str, tmp_path: Path, fake: FakeKajabi) -> Iterator[Live]:
    with serve_app(database_url, tmp_path, fake) as app:
        yield app


def _text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _unmatched_revenue(client: FlaskClient) -> tuple[int, int]:
    report = client.get("/api/v1/reports/sources?range=30d").json
    return report["unmatched"]["revenue"], report["unmatched"]["purchases"]


def test_a_creator_connects_kajabi_chooses_a_site_and_sees_the_sync_in_the_report(live: Live, fake: FakeKajabi) -> None:
    academy = fake.add_site("Mindful Money Academy")
    fake.add_site("Side Project")
    fake.seed_random(40, seed=2)
    client, _ = live.client("creator@example.com")

    form = client.get("/connections/new/kajabi")
    assert form.status_code == 200
    for help_text in ("Settings > Public API", "Create User API Key", "View purchases", "View contacts"):
        assert help_text in _text(form)
    assert client.get("/connections/new/nowhere").status_code == 404

    wrong = post_form(client, "/connections/new/kajabi", {**live.credentials(), "client_secret": "typo"})
    assert wrong.status_code == 422
    assert WRONG_SECRET in _text(wrong)
    assert live.count(t.platform_integrations) == 0

    created = post_form(client, "/connections/new/kajabi", live.credentials())
    assert created.status_code == 302
    choose_url = created.headers["Location"]
    connection_id = int(choose_url.split("/")[-2])
    chooser = client.get(choose_url)
    assert "Mindful Money Academy" in _text(chooser)
    assert "Side Project" in _text(chooser)
    chosen = post_form(client, choose_url, {"choice": academy.id})
    assert chosen.headers["Location"].endswith(f"/connections/{connection_id}")

    page = _text(client.get(f"/connections/{connection_id}"))
    assert f'data-status-url="/api/v1/connections/{connection_id}"' in page
    assert '<script src="/static/connections.js" defer></script>' in page
    assert "<script>" not in page  # no inline scripts
    assert client.get("/static/connections.js").status_code == 200

    live.wait()
    status = client.get(f"/api/v1/connections/{connection_id}").json
    assert status["status"] == "connected"
    assert status["account_name"] == "Mindful Money Academy"
    assert status["progress"]["purchases_found"] == 40
    assert status["last_synced_at"] is not None
    assert live.hook_url().startswith(f"{live.base_url}/webhooks/kajabi/{connection_id}/")
    assert _unmatched_revenue(client)[1] == 40
    listing = _text(client.get("/connections/"))
    assert "Mindful Money Academy" in listing
    assert "Connected" in listing

    stranger, _ = live.client("stranger@example.com")
    assert stranger.get(f"/api/v1/connections/{connection_id}").status_code == 404
    assert stranger.get(f"/connections/{connection_id}").status_code == 404
    signed_out = live.app.test_client().get(f"/connections/{connection_id}")
    assert (signed_out.status_code, signed_out.headers["Location"]) == (
        302,
        f"/login?next=%2Fconnections%2F{connection_id}",
    )


def test_a_30_day_backfill_of_thousands_of_purchases_reports_progress(live: Live, fake: FakeKajabi) -> None:
    fake.seed_random(2500, days=30, seed=11)
    refunds = sum(1 for txn in fake.transactions if txn.action == "refund")
    _, account_id = live.client("creator@example.com")
    connections = live.container.services.connections()
    connection_id = connections.connect(account_id, "kajabi", live.credentials()).connection.id
    seen = live.watch_sync(account_id, connection_id, every=0.05)
    final = connections.status(account_id, connection_id)
    assert final.status is ConnectionStatus.CONNECTED
    assert final.purchases_found == 2500
    assert final.pages_done == math.ceil(2500 / PAGE_SIZE) + max(1, math.ceil(refunds / PAGE_SIZE))
    assert live.count(t.purchases) == 2500
    assert live.count(t.refunds) == refunds
    assert seen[0].status is ConnectionStatus.SYNCING
    found = [v.purchases_found for v in seen if v.status is ConnectionStatus.SYNCING]
    assert found == sorted(found)
    assert all(v.total in (None, 2500) for v in seen)


def test_webhooks_count_once_in_any_order_and_only_with_the_right_token(live: Live, fake: FakeKajabi) -> None:
    offer = fake.add_offer("Email List Accelerator", 19_700)
    client, account_id = live.client("creator@example.com")
    connection_id = live.connect(account_id)
    now = datetime.now(UTC)
    newer = fake.add_purchase(fake.add_customer("liam@example.com", "Liam"), offer, created_at=now - timedelta(hours=1))
    older = fake.add_purchase(fake.add_customer("maya@example.com", "Maya"), offer, created_at=now - timedelta(hours=5))

    assert fake.deliver("purchase", newer) == [202]
    assert fake.deliver("purchase", older) == [202]
    assert fake.deliver("purchase", newer) == [200]  # Kajabi retried: accepted, ignored
    live.wait()
    assert live.count(t.purchases) == 2
    assert live.count(t.webhook_deliveries) == 2
    assert _unmatched_revenue(client) == (2 * 19_700, 2)

    body = fake.webhook_body("purchase", newer)
    wrong = requests.post(f"{live.base_url}/webhooks/kajabi/{connection_id}/not-the-token", json=body, timeout=5)
    assert wrong.status_code == 404
    assert requests.post(f"{live.base_url}/webhooks/kajabi/{connection_id}", json=body, timeout=5).status_code == 404
    assert requests.post(f"{live.base_url}/webhooks/kajabi/9999/token", json=body, timeout=5).status_code == 404
    assert live.count(t.webhook_deliveries) == 2

    forged = {**body, "id": "forged-event"}
    forged["payload"] = [dict(body["payload"][0], id="123456789"), *body["payload"][1:]]
    assert requests.post(live.hook_url(), json=forged, timeout=5).status_code == 202
    live.wait()
    assert live.count(t.purchases) == 2  # Kajabi's API does not know that purchase: it never counts


def test_a_refund_found_by_polling_reduces_revenue(live: Live, fake: FakeKajabi) -> None:
    offer = fake.add_offer("Course Launch Blueprint", 49_700)
    purchase = fake.add_purchase(fake.add_customer("ava@example.com", "Ava"), offer)
    client, account_id = live.client("creator@example.com")
    live.connect(account_id)
    assert _unmatched_revenue(client) == (49_700, 1)

    fake.refund(purchase, 20_000)
    assert live.container.services.connections().poll_live() == 1
    live.wait()
    assert _unmatched_revenue(client) == (29_700, 1)

    # The embedded default polls on its own timer; a second refund arrives without anyone asking.
    fake.refund(purchase, 9_700)
    live.container.gateways.job_queue().schedule_every(POLL_ALL_TASK, 0.2)
    deadline = time.monotonic() + 10
    while _unmatched_revenue(client)[0] != 20_000 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _unmatched_revenue(client) == (20_000, 1)


def test_a_revoked_key_needs_attention_and_reconnecting_resumes_without_duplicates(
    live: Live, fake: FakeKajabi
) -> None:
    offer = fake.add_offer("Mini-Course", 2_700)
    fake.add_purchase(fake.add_customer("noah@example.com", "Noah"), offer)
    client, account_id = live.client("creator@example.com")
    connection_id = live.connect(account_id)
    old_hook = live.hook_url()

    fake.revoke_key()
    live.container.services.connections().poll_live()
    live.wait()
    status = client.get(f"/api/v1/connections/{connection_id}").json
    assert status["status"] == "needs_attention"
    assert status["reason"] == REJECTED_KEY
    assert "Reconnect" in _text(client.get("/connections/"))

    new_key = fake.create_key(name="Second key")
    fake.add_purchase(fake.add_customer("zoe@example.com", "Zoe"), offer)
    reconnect_page = client.get(f"/connections/{connection_id}/reconnect")
    assert REJECTED_KEY in _text(reconnect_page)
    done = post_form(client, f"/connections/{connection_id}/reconnect", live.credentials(new_key))
    assert done.headers["Location"].endswith(f"/connections/{connection_id}")
    live.wait()
    assert client.get(f"/api/v1/connections/{connection_id}").json["status"] == "connected"
    assert live.count(t.purchases) == 2
    assert live.hook_url() != old_hook  # the old hook was removed; the new one carries a new token
    assert requests.post(old_hook, json={"id": "x", "event": "purchase", "payload": []}, timeout=5).status_code == 404


def test_disconnect_removes_the_hooks_and_later_deliveries_are_gone(live: Live, fake: FakeKajabi) -> None:
    offer = fake.add_offer("Mini-Course", 2_700)
    purchase = fake.add_purchase(fake.add_customer("kai@example.com", "Kai"), offer)
    client, account_id = live.client("creator@example.com")
    connection_id = live.connect(account_id)
    hook_url = live.hook_url()
    assert (
        post_form(
            client, f"/connections/{connection_id}/disconnect", {}, form_page=f"/connections/{connection_id}"
        ).status_code
        == 302
    )
    assert fake.hooks == []
    assert live.row(connection_id).encrypted_credentials is None
    assert client.get(f"/api/v1/connections/{connection_id}").json["status"] == "disconnected"
    answer = requests.post(hook_url, json=fake.webhook_body("purchase", purchase), timeout=5)
    assert answer.status_code == 410


def test_credentials_and_tokens_are_unreadable_in_the_database_and_the_logs(
    live: Live, fake: FakeKajabi, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_offer("Mini-Course", 2_700)
    _, account_id = live.client("creator@example.com")
    with caplog.at_level(logging.DEBUG):
        connection_id = live.connect(account_id)
    row = live.row(connection_id)
    raw = bytes(row.encrypted_credentials)
    hook_token = live.hook_url().rsplit("/", 1)[1]
    issued = [r for r in fake.requests_to("/v1/oauth/token") if r.status == 200]
    assert issued
    for secret in (fake.client_secret, fake.client_id, hook_token):
        assert secret.encode() not in raw
        assert secret not in str(tuple(row))
        assert secret not in caplog.text
    assert b"access_token" not in raw
    plain = FernetTokenCipher([TEST_ENCRYPTION_KEY]).decrypt(raw)
    assert fake.client_secret.encode() in plain
    assert b"access_token" in plain


def test_rotate_keys_re_encrypts_every_credential_with_the_new_key(
    live: Live, fake: FakeKajabi, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add_offer("Mini-Course", 2_700)
    _, account_id = live.client("creator@example.com")
    connection_id = live.connect(account_id)
    new_key = new_encryption_key()
    monkeypatch.setenv("COURSESIGNAL_DATABASE_URL", database_url)
    monkeypatch.setenv("COURSESIGNAL_INSTANCE_PATH", str(tmp_path / "cli-instance"))
    monkeypatch.setenv("COURSESIGNAL_ENCRYPTION_KEYS", f"{new_key}, {TEST_ENCRYPTION_KEY}")
    monkeypatch.delenv("COURSESIGNAL_REDIS_URL", raising=False)
    result = CliRunner().invoke(main, ["rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted the credentials of 1 connection with the first key." in result.output
    raw = bytes(live.row(connection_id).encrypted_credentials)
    assert fake.client_secret.encode() in FernetTokenCipher([new_key]).decrypt(raw)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        FernetTokenCipher([TEST_ENCRYPTION_KEY]).decrypt(raw)


def test_the_webhook_and_connection_endpoints_are_in_the_openapi_document(live: Live) -> None:
    paths = live.app.test_client().get("/openapi.json").json["paths"]
    token_hook = paths["/webhooks/{platform}/{connection_id}/{token}"]["post"]
    assert set(token_hook["responses"]) >= {"202", "200", "404", "410"}
    assert "/webhooks/{platform}/{connection_id}" in paths
    assert "404" in paths["/api/v1/connections/{connection_id}"]["get"]["responses"]
