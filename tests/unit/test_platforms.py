from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pluggy
import pytest

from adapters.platforms.hookspecs import PROJECT_NAME, hookimpl
from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry, PluginError
from core.domain.money import Money
from core.ports.platforms import PlatformAdapter, PlatformError, WebhookBatch, WebhookDelivery, WebhookRejected
from plugins.csv_import import CsvPlatform, parse_csv

HEADER = "purchase_id,email,amount,currency,purchased_at,course_name,visitor_id\n"


def test_the_csv_plugin_is_found_through_its_entry_point() -> None:
    registry = PlatformRegistry(build_plugin_manager())
    platform = registry.get("csv")
    assert isinstance(platform.inner, CsvPlatform)  # handed out behind the registry's checks
    assert (platform.name, platform.plugin) == ("csv", "csv")


def test_the_registry_rejects_what_is_not_a_platform_adapter() -> None:
    class Bad:
        @hookimpl
        def coursesignal_platforms(self) -> list[object]:
            return [object()]

    manager = build_plugin_manager(load_entry_points=False)
    manager.register(Bad(), name="bad-plugin")
    with pytest.raises(PluginError, match="bad-plugin"):
        PlatformRegistry(manager).all()


def test_two_plugins_cannot_claim_one_name() -> None:
    class Twice:
        @hookimpl
        def coursesignal_platforms(self) -> list[PlatformAdapter]:
            return [CsvPlatform()]

    manager = build_plugin_manager()
    manager.register(Twice(), name="twice")
    with pytest.raises(PluginError, match="a second time"):
        PlatformRegistry(manager).get("csv")


def test_parse_csv_reads_rows_in_minor_units_and_utc() -> None:
    (record,) = parse_csv(HEADER + "p1, Buyer@Example.com ,49.99,usd,2026-11-01T10:00:00-05:00,Course A,visitor01\n")
    assert record.amount == Money(4999, "USD")
    assert record.purchased_at == datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    assert (record.email, record.course_name, record.visitor_key) == ("buyer@example.com", "Course A", "visitor01")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("p2,not-an-email,1,USD,2026-11-01T00:00:00Z,,", "Row 3: email"),
        ("p2,a@example.com,abc,USD,2026-11-01T00:00:00Z,,", "Row 3: amount: not a number"),
        ("p2,a@example.com,1.001,USD,2026-11-01T00:00:00Z,,", "Row 3: amount"),
        ("p2,a@example.com,1,US,2026-11-01T00:00:00Z,,", "Row 3: currency"),
        ("p2,a@example.com,1,USD,yesterday,,", "Row 3: purchased_at"),
        (",a@example.com,1,USD,2026-11-01T00:00:00Z,,", "Row 3: purchase_id"),
    ],
)
def test_a_bad_row_is_named_with_its_problem(row: str, message: str) -> None:
    good = "p1,a@example.com,1,USD,2026-11-01T00:00:00Z,,\n"
    with pytest.raises(PlatformError, match=message):
        list(parse_csv(HEADER + good + row + "\n"))


def test_a_missing_column_is_named() -> None:
    with pytest.raises(PlatformError, match="no amount column"):
        list(parse_csv("purchase_id,email,currency,purchased_at\n"))


def test_csv_webhook_parses_the_body_and_refuses_garbage() -> None:
    body = (HEADER + "p1,a@example.com,1,USD,2026-11-01T00:00:00Z,,\n").encode()
    batch = CsvPlatform().read_webhook(WebhookDelivery(headers={}, body=body), {})
    assert isinstance(batch, WebhookBatch)
    assert len(batch.records) == 1
    with pytest.raises(WebhookRejected):
        CsvPlatform().read_webhook(WebhookDelivery(headers={}, body=b"\xff\xfe"), {})


def test_fetch_reports_progress_and_honours_since(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.csv"
    path.write_text(
        HEADER + "old,a@example.com,1,USD,2026-01-01T00:00:00Z,,\nnew,a@example.com,1,USD,2026-11-01T00:00:00Z,,\n"
    )
    seen: list[tuple[int, int | None]] = []
    records = list(
        CsvPlatform().fetch_purchases(
            {"path": str(path)}, datetime(2026, 6, 1, tzinfo=UTC), lambda done, total: seen.append((done, total))
        )
    )
    assert [r.platform_purchase_id for r in records] == ["new"]
    assert seen[-1] == (2, 2)


def test_hookspec_project_name_matches_the_public_marker() -> None:
    assert isinstance(hookimpl, pluggy.HookimplMarker)
    assert hookimpl.project_name == PROJECT_NAME


class _Iterating(PlatformAdapter):
    name = "x"
    display_name = "X"

    def read_webhook(self, delivery: WebhookDelivery, credentials: Mapping[str, str]) -> WebhookBatch:
        return WebhookBatch(event_id="1")

    def fetch_purchases(self, credentials: Mapping[str, str], since: datetime, progress) -> Iterator:  # type: ignore[no-untyped-def, type-arg]
        return iter(())


def test_an_adapter_must_implement_the_abstract_methods() -> None:
    class Incomplete(PlatformAdapter):
        name = "y"
        display_name = "Y"

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]
    assert _Iterating().check_credentials({}).ok


def test_a_kajabi_purchase_naming_a_member_besides_its_customer_carries_the_members_email() -> None:
    from adapters.platforms.kajabi.records import index_resources, purchase_record

    def purchase(relationships: dict[str, object]) -> dict[str, object]:
        attributes = {"amount_in_cents": 4900, "currency": "USD", "created_at": "2026-09-01T10:00:00Z"}
        return {"id": "7", "type": "purchases", "attributes": attributes, "relationships": relationships}

    customer = {"id": "1", "type": "customers", "attributes": {"email": "Giver@Example.com"}}
    member = {"id": "2", "type": "contacts", "attributes": {"email": "student@example.com"}}
    index = index_resources([customer, member])
    paid_by = {"customer": {"data": {"id": "1", "type": "customers"}}}

    gift = purchase_record(purchase({**paid_by, "member": {"data": {"id": "2", "type": "contacts"}}}), index)
    assert (gift.email, gift.recipient_email) == ("giver@example.com", "student@example.com")
    own = purchase_record(purchase({**paid_by, "member": {"data": {"id": "1", "type": "customers"}}}), index)
    assert (own.email, own.recipient_email) == ("giver@example.com", None)
    assert purchase_record(purchase(paid_by), index).recipient_email is None  # what Kajabi documents
