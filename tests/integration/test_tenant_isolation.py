"""Tenant isolation over every route of the app, read from its URL map.

Each endpoint falls in exactly one group, or the test fails and asks for the new endpoint to be placed:
- an object id in the URL (site, purchase, connection): asked by one account for another's id, it answers 404;
- a source name in the URL: another account's source is not found either;
- public (sign-in, the tracker, health, webhooks that authenticate by their own secret): listed by name;
- the operator console (under /operator/): 404 to anyone not granted the operator role, signed in or not,
  and served to an operator;
- every other endpoint is account-wide: refused without a sign-in, and none of its pages shows anything of
  another account (its domain, its buyers, its sources).
The number of endpoints covered is printed with the run's figures.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from adapters.persistence import tables
from adapters.platforms.hookspecs import hookimpl
from adapters.web.contract import routes
from core.domain.connections import StoredDelivery
from core.ports.platforms import (
    CredentialField,
    PlatformAdapter,
    SyncProgress,
    WebhookBatch,
    WebhookDelivery,
)
from tests.conftest import record_figure, sign_in
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
# Names, not ids, of objects one account owns: another account's must not be found.
NAME_KINDS = {"source": "source"}
# Reachable without signing in: they show no account's data, or authenticate by a secret of their own (a
# mailed link's token, a webhook URL token or signature).
PUBLIC_ENDPOINTS = {
    "auth.login",
    "auth.logout",
    "auth.signup",
    "auth.check_inbox",
    "auth.verify",
    "auth.resend_verification",
    "auth.forgot_password",
    "auth.reset_password",
    "auth.confirm_email_change",
    "health.healthz",
    "health.readyz",
    "openapi.document",
    "static",
    "collect.tracker_script",
    "collect.collect",
    "webhooks.receive_with_token",
    "webhooks.receive_signed",
    "billing_webhook.stripe_webhook",
    # A site's hosted opt-out page is for its visitors: it names the site by its public key, as the snippet does.
    "privacy.opt_out_page",
    "privacy.opt_out",
    "privacy.opt_in",
    # The front page is for anyone; signed in it is the dashboard, which is checked at /dashboard.
    "home.index",
    "home.favicon",
}
# The operator console's blueprint: invisible (404) to every creator and every anonymous visitor.
OPERATOR_BLUEPRINT = "operator"
# Arguments that name something global (a platform), not an object of the account.
GLOBAL_ARGUMENTS = {"platform"}
BROWSER = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130 Safari/537.36"}


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
    """An account with a site on <name>.example.com, a visit from <name>tube and a purchase by buyer-<name>."""
    name = address.split("@")[0]
    sign_up_and_verify(client, settings.outbox_path, address)
    post_form(client, "/onboarding/platform", {"platform": "csv"})
    csv = "purchase_id,email,amount,currency,purchased_at\n"
    csv += f"p-1,buyer-{name}@example.com,10.00,USD,{datetime.now(UTC).isoformat()}\n"
    client.post(
        "/onboarding/connect",
        data={"csrf_token": csrf_token(client, "/onboarding/connect"), "file": (io.BytesIO(csv.encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    post_form(client, "/onboarding/snippet", {"domain": f"{name}.example.com"})


def _visit(client, container, address: str) -> None:  # type: ignore[no-untyped-def]
    name = address.split("@")[0]
    with container.gateways.engine().connect() as connection:
        site_key = connection.execute(
            select(tables.sites.c.public_key).join(tables.users).where(tables.users.c.email == address)
        ).scalar_one()
    event = {
        "s": site_key,
        "n": "pageview",
        "i": f"{name}-event-1",
        "v": f"{name}-visitor",
        "u": f"https://{name}.example.com/?utm_source={name.title()}tube",
    }
    assert client.post("/t/e", data=json.dumps(event), headers=BROWSER).status_code == 204


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


@pytest.fixture
def quiet_plugin(container):  # type: ignore[no-untyped-def]
    """Installed before the app starts, which loads every plugin then (as a pip-installed one would be)."""
    plugin = _QuietPlugin()
    container.platforms.plugin_manager().register(plugin, name="quiet")
    return plugin


def _scoped_rules(app):  # type: ignore[no-untyped-def]
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(NOT_SESSION_SCOPED) or not rule.arguments:
            continue
        id_arguments = [name for name in rule.arguments if name.endswith("id")]
        if id_arguments:
            yield rule, id_arguments


def test_another_accounts_ids_are_not_found_on_every_endpoint(quiet_plugin, app, container, settings) -> None:  # type: ignore[no-untyped-def]
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


def _classify(rule) -> str:  # type: ignore[no-untyped-def]
    """Which group an endpoint is in; fails for one this test does not know how to check."""
    if rule.endpoint in PUBLIC_ENDPOINTS:
        return "public"
    if rule.endpoint.split(".")[0] == OPERATOR_BLUEPRINT:
        assert rule.rule.startswith("/operator/"), f"{rule.rule}: operator pages live under /operator/"
        return "operator"
    arguments = set(rule.arguments) - GLOBAL_ARGUMENTS
    unknown = arguments - set(ID_KINDS) - set(NAME_KINDS)
    assert not unknown, (
        f"{rule.rule} ({rule.endpoint}): teach test_tenant_isolation.py which object {sorted(unknown)} names, "
        "or list the endpoint in PUBLIC_ENDPOINTS if it is meant for anyone"
    )
    if arguments & set(ID_KINDS):
        return "by id"
    if arguments & set(NAME_KINDS):
        return "by name"
    return "account-wide"


def test_every_endpoint_is_public_by_name_or_keeps_accounts_apart(quiet_plugin, app, container, settings) -> None:  # type: ignore[no-untyped-def]
    alice, bob, stranger = app.test_client(), app.test_client(), app.test_client()
    _set_up(alice, settings, "alice@example.com")
    _set_up(bob, settings, "bob@example.com")
    operator = app.test_client()
    sign_in(operator, container, "olga@example.com")
    container.services.accounts().grant_operator("olga@example.com")
    _visit(alice, container, "alice@example.com")
    _visit(bob, container, "bob@example.com")
    container.gateways.job_queue().wait_until_idle()
    alice_ids, bob_ids = _ids_of(container, "alice@example.com"), _ids_of(container, "bob@example.com")
    names = {"alice": {"source": "Alicetube"}, "bob": {"source": "Bobtube"}}
    bobs_marks = ("bob.example.com", "buyer-bob@example.com", "Bobtube", "bob@example.com")
    anonymous_form_token = csrf_token(stranger, "/login")

    covered: dict[str, list[str]] = {}
    seen_own_marks = set()
    for rule, _ in routes(app):  # Flask's and the collect endpoint's in front of it
        group = _classify(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}) or ["OPTIONS"]:
            covered.setdefault(group, []).append(f"{method} {rule.rule}")
            if group == "public":
                continue
            values = {"platform": "quiet"}
            own = rule.build({**values, **_values_for(rule, alice_ids, names["alice"])}, append_unknown=False)[1]
            data = {"csrf_token": csrf_token(alice, "/dashboard")} if method != "GET" else None
            if group == "operator":
                answered = stranger.open(own, method=method, data={"csrf_token": anonymous_form_token}).status_code
                assert answered == 404, f"{method} {own} answered {answered} anonymously"
                answered = alice.open(own, method=method, data=data).status_code
                assert answered == 404, f"{method} {own} answered {answered} to a creator"
                operator_data = {"csrf_token": csrf_token(operator, "/dashboard")} if method != "GET" else None
                answered = operator.open(own, method=method, data=operator_data).status_code
                assert answered != 404, f"{method} {own} answered 404 to an operator"
                continue
            anonymous = stranger.open(own, method=method, data={"csrf_token": anonymous_form_token})
            assert anonymous.status_code in (302, 401), f"{method} {own} answered {anonymous.status_code} anonymously"
            if anonymous.status_code == 302:
                assert "/login" in anonymous.headers["Location"], f"{method} {own} sent a stranger elsewhere"
            if group in ("by id", "by name"):
                other = rule.build({**values, **_values_for(rule, bob_ids, names["bob"])}, append_unknown=False)[1]
                assert alice.open(own, method=method, data=data).status_code != 404, f"{method} {own} for its owner"
                response = alice.open(other, method=method, data=data)
                assert response.status_code == 404, f"{method} {other} answered {response.status_code} to a stranger"
            elif method == "GET":
                page = alice.get(own, follow_redirects=True)
                assert page.status_code < 500, f"GET {own} answered {page.status_code}"
                text = page.get_data(as_text=True)
                leaked = [mark for mark in bobs_marks if mark in text]
                assert not leaked, f"GET {own} shows another account's {leaked}"
                seen_own_marks.update(mark for mark in ("alice.example.com", "buyer-alice@example.com") if mark in text)

    # The marks are real: the account's own pages do show its own domain and buyers.
    assert seen_own_marks == {"alice.example.com", "buyer-alice@example.com"}
    total = sum(len(endpoints) for endpoints in covered.values())
    record_figure(
        "tenant isolation endpoints",
        f"{total} ({', '.join(f'{group} {len(endpoints)}' for group, endpoints in sorted(covered.items()))})",
    )
    assert {"by id", "by name", "account-wide", "public", "operator"} <= set(covered)
    # The beta program's pages: the operator's are invisible to creators, the members' refuse strangers.
    assert {"GET /operator/beta", "POST /operator/beta/invite", "POST /operator/beta/setup-help/close"} <= set(
        covered["operator"]
    )
    assert {"GET /beta/", "POST /beta/setup-help", "POST /beta/feedback", "POST /beta/testimonial"} <= set(
        covered["account-wide"]
    )


def _values_for(rule, ids: dict[str, int], names: dict[str, str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The URL values naming one account's objects, for the arguments this rule takes."""
    values: dict[str, object] = {}
    for argument in rule.arguments:
        if argument in ID_KINDS:
            values[argument] = ids[ID_KINDS[argument]]
        elif argument in NAME_KINDS:
            values[argument] = names[NAME_KINDS[argument]]
    return values


def test_an_endpoint_nobody_placed_fails_the_check(app) -> None:  # type: ignore[no-untyped-def]
    app.add_url_rule("/exports/<slug>", "exports.download", lambda slug: slug)
    (rule,) = [rule for rule in app.url_map.iter_rules() if rule.endpoint == "exports.download"]
    with pytest.raises(AssertionError, match=r"teach test_tenant_isolation\.py"):
        _classify(rule)
    app.add_url_rule("/exports", "exports.index", lambda: "")
    (plain,) = [rule for rule in app.url_map.iter_rules() if rule.endpoint == "exports.index"]
    assert _classify(plain) == "account-wide"  # so it must refuse strangers and show nothing of others
