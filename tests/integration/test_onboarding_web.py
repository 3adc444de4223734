"""The onboarding wizard through the real app: platform, CSV upload, snippet, first visit, dashboard."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from adapters.platforms.hookspecs import hookimpl
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord
from core.ports.platforms import (
    ConnectChoice,
    ConnectionCheck,
    CredentialField,
    PlatformAdapter,
    PlatformRecord,
    SyncProgress,
    WebhookBatch,
    WebhookDelivery,
)
from tests.web_session import csrf_token, post_form, sign_up_and_verify

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130 Safari/537.36"}


def purchases_csv(*rows: tuple[str, str, str], when: datetime | None = None) -> bytes:
    stamp = (when or datetime.now(UTC) - timedelta(days=2)).isoformat()
    lines = ["purchase_id,email,amount,currency,purchased_at,course_name"]
    lines += [f"{pid},{email},{amount},USD,{stamp},Course" for pid, email, amount in rows]
    return ("\n".join(lines) + "\n").encode()


def upload(client, content: bytes):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/onboarding/connect")
    return client.post(
        "/onboarding/connect",
        data={"csrf_token": token, "file": (io.BytesIO(content), "sales.csv")},
        content_type="multipart/form-data",
    )


def test_the_wizard_from_platform_to_a_dashboard_with_attributed_revenue(client, container, settings) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, "creator@example.com")
    assert client.get("/onboarding").headers["Location"] == "/onboarding/platform"
    page = client.get("/onboarding/platform").get_data(as_text=True)
    assert "CSV file" in page
    assert 'aria-current="step"' in page

    assert post_form(client, "/onboarding/platform", {"platform": "csv"}).headers["Location"] == "/onboarding/connect"
    bad = upload(client, b"purchase_id,email\n1,a@example.com\n")
    assert bad.status_code == 400
    assert "no amount, currency, purchased_at column" in bad.get_data(as_text=True)
    assert client.get("/onboarding").headers["Location"] == "/onboarding/connect"  # resumes where it stopped

    done = upload(client, purchases_csv(("p-1", "buyer@example.com", "99.00"), ("p-2", "other@example.com", "49.00")))
    assert done.headers["Location"] == "/onboarding/sync"
    assert "<strong>2</strong>" in client.get("/onboarding/sync").get_data(as_text=True)
    assert client.get("/onboarding").headers["Location"] == "/onboarding/snippet"

    refused = post_form(client, "/onboarding/snippet", {"domain": "not a domain"})
    assert "not a domain name" in refused.get_data(as_text=True)
    post_form(client, "/onboarding/snippet", {"domain": "https://www.academy.example.com/"})
    snippet_page = client.get("/onboarding/snippet").get_data(as_text=True)
    assert '<script async src="http://coursesignal.test/t.js" data-site="cs_' in snippet_page.replace(
        "&lt;", "<"
    ).replace("&gt;", ">").replace("&#34;", '"').replace("&quot;", '"')
    assert "/static/onboarding.js" in snippet_page
    poll_url = snippet_page.split('data-poll-url="')[1].split('"')[0]
    site_key = snippet_page.split("data-site=")[1].split("cs_")[1].split("&")[0]
    assert client.get(poll_url).json == {"seen": False}

    page_url = "https://academy.example.com/launch?utm_source=youtube&utm_medium=video"
    for event in (
        {"n": "pageview", "i": "event0001", "u": page_url, "r": "https://www.youtube.com/"},
        {"n": "identify", "i": "event0002", "u": page_url, "e": "buyer@example.com"},
    ):
        body = json.dumps({"s": f"cs_{site_key}", "v": "visitor01", **event})
        assert client.post("/t/e", data=body, content_type="text/plain", headers=BROWSER).status_code == 204
    assert client.get(poll_url).json == {"seen": True}

    assert post_form(client, "/onboarding/finish", {}, form_page="/onboarding/snippet").headers["Location"] == (
        "/dashboard"
    )
    assert client.get("/onboarding").headers["Location"] == "/dashboard"
    container.gateways.job_queue().wait_until_idle()
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Finish setting up" not in dashboard
    assert "YouTube" in dashboard
    # Both purchases were made before the snippet saw anyone: honest, unmatched revenue.
    assert "Unmatched" in dashboard
    assert "148.00" in dashboard

    # The buyer, now known to the tracker, buys again: that purchase is credited to YouTube.
    assert (
        upload(client, purchases_csv(("p-3", "buyer@example.com", "129.00"), when=datetime.now(UTC))).status_code == 302
    )
    dashboard = client.get("/dashboard").get_data(as_text=True)
    youtube_row = dashboard.split('">YouTube</a>')[1].split("</tr>")[0]
    assert "129.00" in youtube_row


def test_the_dashboard_lists_what_setup_is_left(client, settings) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, "creator@example.com")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Finish setting up" in page
    # Each step left reads on its own, outside the wizard's numbered row.
    for step in ("Choose your platform", "Connect your platform", "Bring in purchases", "Add the tracking snippet"):
        assert f"<li>{step}</li>" in page
    assert "Nothing in this range yet." in page


class DemoPlatform(PlatformAdapter):
    """An installed platform: one school per key, or a choice of two for the "two-schools" key."""

    name = "demo"
    display_name = "Demo Courses"
    credential_fields = (
        CredentialField("school", "School subdomain", help="The part before .demo.example in your school's address."),
        CredentialField("api_key", "API key", help="Settings, then API, then Create key.", secret=True),
    )

    def __init__(self) -> None:
        self.hooks_registered: list[str] = []

    def check_credentials(self, credentials: Mapping[str, str]) -> ConnectionCheck:
        if credentials["api_key"] == "two-schools":
            choices = (ConnectChoice("north", "North School"), ConnectChoice("south", "South School"))
            return ConnectionCheck(ok=True, choices=choices, choice_field="chosen_school")
        if credentials["api_key"] != "good-key":
            return ConnectionCheck(
                ok=False, message="Demo Courses refused that API key; create a new one and paste it."
            )
        return ConnectionCheck(ok=True)

    def register_webhooks(self, credentials: Mapping[str, str], target_url: str) -> tuple[str, ...]:
        self.hooks_registered.append(target_url)
        return (f"hook-{len(self.hooks_registered)}",)

    def fetch_purchases(
        self, credentials: Mapping[str, str], since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        school = credentials.get("chosen_school") or credentials["school"]
        progress(0, 1)
        yield PurchaseRecord(
            platform=self.name,
            platform_purchase_id=f"{school}-1",
            amount=Money(12900, "USD"),
            purchased_at=since + timedelta(days=1),
            email="buyer@example.com",
        )
        progress(1, 1)

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        return WebhookBatch(event_id="none")


class DemoPlugin:
    def __init__(self) -> None:
        self.platform = DemoPlatform()

    @hookimpl
    def coursesignal_platforms(self) -> list[PlatformAdapter]:
        return [self.platform]


@pytest.fixture
def demo_plugin(container) -> DemoPlugin:  # type: ignore[no-untyped-def]
    """Installed before the app starts (it loads every plugin then), like a package pip installed."""
    plugin = DemoPlugin()
    container.platforms.plugin_manager().register(plugin, name="demo-plugin")
    return plugin


def test_the_wizard_connects_an_installed_platform_and_shows_its_sync(demo_plugin, client, container, settings) -> None:  # type: ignore[no-untyped-def]
    plugin = demo_plugin
    sign_up_and_verify(client, settings.outbox_path, "creator@example.com")
    assert "Demo Courses" in client.get("/onboarding/platform").get_data(as_text=True)
    post_form(client, "/onboarding/platform", {"platform": "demo"})
    form = client.get("/onboarding/connect").get_data(as_text=True)
    assert "School subdomain" in form
    assert 'type="password"' in form
    assert "Settings, then API, then Create key." in form
    assert 'class="connect-form"' in form  # the Connections pages' own form

    refused = post_form(client, "/onboarding/connect", {"school": "acme", "api_key": "bad"})
    assert refused.status_code == 422
    refused_page = refused.get_data(as_text=True)
    assert "refused that API key; create a new one and paste it." in refused_page
    # What was typed is kept, the secret is not: it is never written back into a page.
    assert 'name="school" type="text"' in refused_page
    assert 'value="acme"' in refused_page
    assert 'value="bad"' not in refused_page
    assert "Paste it again" in refused_page
    assert client.get("/api/v1/connections").json == {"connections": []}  # nothing stored for a refusal

    accepted = post_form(client, "/onboarding/connect", {"school": "acme", "api_key": "good-key"})
    assert accepted.headers["Location"] == "/onboarding/sync"
    (connection,) = client.get("/api/v1/connections").json["connections"]
    assert connection["platform"] == "demo"
    (hook_url,) = plugin.platform.hooks_registered
    assert hook_url.startswith(f"http://coursesignal.test/webhooks/demo/{connection['id']}/")
    assert client.get("/onboarding").headers["Location"] == "/onboarding/sync"  # resumes at the progress

    container.gateways.job_queue().wait_until_idle()
    status_url = f"/api/v1/connections/{connection['id']}"
    synced = client.get(status_url).json
    assert synced["status"] == "connected"
    assert synced["progress"]["purchases_found"] == 1
    page = client.get("/onboarding/sync").get_data(as_text=True)
    assert f'data-status-url="{status_url}"' in page
    assert 'data-status="connected"' in page
    assert "/static/connections.js" in page
    assert "<script>" not in page  # the strict CSP allows no inline script
    assert '<form method="post" id="connection-continue">' in page  # shown, not hidden, once connected
    assert "1 purchase in the last full sync" in page

    moved_on = post_form(client, "/onboarding/sync", {})
    assert moved_on.headers["Location"] == "/onboarding/snippet"
    assert client.get("/onboarding").headers["Location"] == "/onboarding/snippet"
    post_form(client, "/onboarding/snippet", {"domain": "academy.example.com"})
    post_form(client, "/onboarding/finish", {}, form_page="/onboarding/snippet")
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "Finish setting up" not in dashboard
    assert "129.00" in dashboard


def test_the_wizard_asks_which_site_when_the_platform_offers_several(demo_plugin, client, container, settings) -> None:  # type: ignore[no-untyped-def]
    sign_up_and_verify(client, settings.outbox_path, "creator@example.com")
    post_form(client, "/onboarding/platform", {"platform": "demo"})
    connected = post_form(client, "/onboarding/connect", {"school": "acme", "api_key": "two-schools"})
    assert connected.headers["Location"] == "/onboarding/choose"
    assert client.get("/onboarding/sync").headers["Location"] == "/onboarding/choose"
    chooser = client.get("/onboarding/choose").get_data(as_text=True)
    assert "North School" in chooser
    assert "South School" in chooser
    assert 'aria-current="step"' in chooser

    wrong = post_form(client, "/onboarding/choose", {"choice": "east"})
    assert wrong.status_code == 422
    assert "Choose one of your Demo Courses sites from the list." in wrong.get_data(as_text=True)
    chosen = post_form(client, "/onboarding/choose", {"choice": "south"})
    assert chosen.headers["Location"] == "/onboarding/sync"

    container.gateways.job_queue().wait_until_idle()
    page = client.get("/onboarding/sync").get_data(as_text=True)
    assert "Demo Courses: South School" in page
    assert 'data-status="connected"' in page
    assert post_form(client, "/onboarding/sync", {}).headers["Location"] == "/onboarding/snippet"
