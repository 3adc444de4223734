"""Every account-scoped endpoint, asked by one account for another account's ids, answers 404.

The endpoints are read from the app's URL map, so an endpoint added later is covered as soon as it has
an id argument; an id argument this test does not know fails it, asking for the owner's object to be added.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from sqlalchemy import select

from adapters.persistence import tables
from adapters.platforms.hookspecs import hookimpl
from core.domain.connections import StoredDelivery
from core.ports.platforms import (
    CredentialField,
    PlatformAdapter,
    SyncProgress,
    WebhookBatch,
    WebhookDelivery,
)
from tests.web_session import csrf_token, post_form, sign_up_and_verify

# Authenticated by their own secrets (a token in the URL, a signature), not by a session: not in scope here.
NOT_SESSION_SCOPED = ("/webhooks/", "/static/")
ID_KINDS = {
    "site_id": "site",
    "purchase_id": "purchase",
    "id": "purchase",
    "connection_id": "connection",
    "delivery_id": "delivery",
}


class _QuietPlatform(PlatformAdapter):
    """A platform that accepts any key and has nothing to sync: gives each account a connection."""

    name = "quiet"
    display_name = "Quiet"
    credential_fields = (CredentialField("key", "Key"),)

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        return WebhookBatch(event_id="none")

    def fetch_purchases(self, credentials: Mapping[str, str], since: datetime, progress: SyncProgress) -> Iterator:  # type: ignore[type-arg]
        return iter(())


class _QuietPlugin:
    @hookimpl
    def coursesignal_platforms(self) -> list[PlatformAdapter]:
        return [_QuietPlatform()]


def _set_up(client, settings, address: str) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, address)
    post_form(client, "/onboarding/platform", {"platform": "csv"})
    csv = "purchase_id,email,amount,currency,purchased_at\n"
    csv += f"p-1,buyer@example.com,10.00,USD,{datetime.now(UTC).isoformat()}\n"
    client.post(
        "/onboarding/connect",
        data={"csrf_token": csrf_token(client, "/onboarding/connect"), "file": (io.BytesIO(csv.encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    post_form(client, "/onboarding/snippet", {"domain": f"{address.split('@')[0]}.example.com"})


def _ids_of(container, address: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with container.gateways.engine().connect() as connection:
        user_id = connection.execute(select(tables.users.c.id).where(tables.users.c.email == address)).scalar_one()
    connected = container.services.connections().connect(user_id, "quiet", {"key": "any"}).connection
    container.gateways.job_queue().wait_until_idle()
    with container.gateways.engine().connect() as connection:
        site_id = connection.execute(select(tables.sites.c.id).where(tables.sites.c.user_id == user_id)).scalar_one()
        purchase_id = connection.execute(
            select(tables.purchases.c.id).where(tables.purchases.c.user_id == user_id)
        ).scalar_one()
    with container.gateways.unit_of_work() as uow:
        delivery = uow.webhook_deliveries.add(
            StoredDelivery(connected.id, f"event-of-{address}", b"{}", {}, datetime.now(UTC), attempts=5)
        )
        uow.commit()
    assert delivery is not None
    assert delivery.id is not None
    return {"site": site_id, "purchase": purchase_id, "connection": connected.id, "delivery": delivery.id}


def _scoped_rules(app):  # type: ignore[no-untyped-def]
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(NOT_SESSION_SCOPED) or not rule.arguments:
            continue
        id_arguments = [name for name in rule.arguments if name.endswith("id")]
        if id_arguments:
            yield rule, id_arguments


def test_another_accounts_ids_are_not_found_on_every_endpoint(app, container, settings) -> None:  # type: ignore[no-untyped-def]
    manager = container.platforms.plugin_manager()
    manager.register(_QuietPlugin(), name="quiet")
    alice, bob = app.test_client(), app.test_client()
    _set_up(alice, settings, "alice@example.com")
    _set_up(bob, settings, "bob@example.com")
    alice_ids, bob_ids = _ids_of(container, "alice@example.com"), _ids_of(container, "bob@example.com")

    checked = []
    for rule, arguments in _scoped_rules(app):
        unknown = [name for name in arguments if name not in ID_KINDS]
        assert not unknown, f"{rule.rule}: teach this test which object {unknown} names"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            own = rule.build({name: alice_ids[ID_KINDS[name]] for name in arguments}, append_unknown=False)[1]
            other = rule.build({name: bob_ids[ID_KINDS[name]] for name in arguments}, append_unknown=False)[1]
            data = {"csrf_token": csrf_token(alice, "/dashboard")} if method != "GET" else None
            assert alice.open(own, method=method, data=data).status_code != 404, f"{method} {own} for its owner"
            response = alice.open(other, method=method, data=data)
            assert response.status_code == 404, f"{method} {other} answered {response.status_code} to a stranger"
            checked.append(f"{method} {rule.rule}")
    assert "GET /onboarding/sites/<int:site_id>/first-visit" in checked
    assert "GET /connections/<int:connection_id>/deliveries" in checked
    assert "POST /connections/<int:connection_id>/deliveries/<int:delivery_id>/replay" in checked
