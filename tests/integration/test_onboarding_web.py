"""The onboarding wizard through the real app: platform, CSV upload, snippet, first visit, dashboard."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

from adapters.platforms.hookspecs import hookimpl
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord
from core.ports.platforms import (
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
    assert "Choose your platform" in page
    assert "Nothing in this range yet." in page


class DemoPlatform(PlatformAdapter):
    name = "demo"
    display_name = "Demo Courses"
    credential_fields = (
        CredentialField("school", "School subdomain", help="The part before .demo.example in your school's address."),
        CredentialField("api_key", "API key", help="Settings, then API, then Create key.", secret=True),
    )

    def check_credentials(self, credentials: Mapping[str, str]) -> ConnectionCheck:
        if credentials["api_key"] != "good-key":
            return ConnectionCheck(
                ok=False, message="Demo Courses refused that API key; create a new one and paste it."
            )
        return ConnectionCheck(ok=True)

    def fetch_purchases(
        self, credentials: Mapping[str, str], since: datetime, progress: SyncProgress
    ) -> Iterator[PlatformRecord]:
        progress(1, 1)
        yield PurchaseRecord(
            platform=self.name,
            platform_purchase_id=f"{credentials['school']}-1",
            amount=Money(12900, "USD"),
            purchased_at=since + timedelta(days=1),
            email="buyer@example.com",
        )

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        return WebhookBatch(event_id="none")


class DemoPlugin:
    @hookimpl
    def coursesignal_platforms(self) -> list[PlatformAdapter]:
        return [DemoPlatform()]


def test_an_installed_platform_lights_up_with_a_form_from_its_credential_fields(client, container, settings) -> None:  # type: ignore[no-untyped-def]
    container.platforms.plugin_manager().register(DemoPlugin(), name="demo-plugin")
    sign_up_and_verify(client, settings.outbox_path, "creator@example.com")
    assert "Demo Courses" in client.get("/onboarding/platform").get_data(as_text=True)
    post_form(client, "/onboarding/platform", {"platform": "demo"})
    form = client.get("/onboarding/connect").get_data(as_text=True)
    assert "School subdomain" in form
    assert 'type="password"' in form
    assert "Settings, then API, then Create key." in form

    refused = post_form(client, "/onboarding/connect", {"school": "acme", "api_key": "bad"})
    assert refused.status_code == 400
    assert "refused that API key" in refused.get_data(as_text=True)
    accepted = post_form(client, "/onboarding/connect", {"school": "acme", "api_key": "good-key"})
    assert accepted.headers["Location"] == "/onboarding/sync"
    assert "<strong>1</strong>" in client.get("/onboarding/sync").get_data(as_text=True)
