"""Privacy on SQLite and PostgreSQL: a person seeded everywhere through the real edges, exported and erased
through the web, the API and the CLI, then every table searched for what must be gone; IP addresses never
stored; retention deleting raw events while the reports keep their numbers; the hosted opt-out page."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from dependency_injector import providers
from sqlalchemy import select

from adapters.persistence import tables as t
from adapters.persistence.visitor_counts import rebuild_visitor_counts
from core.domain.connections import Connection, ConnectionStatus, StoredDelivery
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord, RefundRecord
from tests.conftest import sign_in
from tests.unit.fakes import FixedClock
from tests.web_session import post_form

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
ANA = "ana.student@example.com"
BEN = "ben.student@example.com"
ANA_KEYS = ("ana-main-browser1", "ana-school-browser")
ANA_ADDRESS = "203.0.113.77"
CREATOR = "creator@example.com"


class Seeded:
    def __init__(self, container: Any, client: Any) -> None:
        self.container = container
        self.client = client
        accounts = container.services.accounts()
        accounts.ensure_account(CREATOR)
        self.site = accounts.add_site(CREATOR, ["example.com", "school.example"])
        self.account_id = self.site.account_id
        self.token = accounts.issue_api_token(CREATOR)
        self._events = 0

    def hit(
        self, visitor: str, url: str, *, kind: str = "pageview", email: str | None = None, referrer: str = ""
    ) -> None:
        self._events += 1
        body = {"s": self.site.public_key, "n": kind, "i": f"ev{self._events:08d}", "v": visitor, "u": url}
        if email:
            body["e"] = email
        if referrer:
            body["r"] = referrer
        response = self.client.post(
            "/t/e",
            data=json.dumps(body),
            content_type="text/plain",
            headers={"User-Agent": BROWSER, "Accept-Language": "en"},
            environ_base={"REMOTE_ADDR": ANA_ADDRESS},
        )
        assert response.status_code == 204, response.get_data(as_text=True)

    def idle(self) -> None:
        self.container.gateways.job_queue().wait_until_idle()

    def buy(self, pid: str, email: str, cents: int, visitor_key: str | None = None) -> None:
        record = PurchaseRecord(
            "csv",
            pid,
            Money(cents, "USD"),
            datetime.now(UTC),
            email=email,
            course_name="Launch",
            visitor_key=visitor_key,
        )
        self.container.services.purchases().ingest(self.account_id, [record])

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return getattr(self.client, method)(path, headers={"Authorization": f"Bearer {self.token}"}, **kwargs)


def seed_people(container: Any, client: Any) -> Seeded:
    """Ana everywhere: two browsers on two domains joined by a hand-off, an identify, a checkout reach, a
    purchase carrying her visitor id, a refund, a raw webhook delivery. Ben beside her, to stay untouched."""
    s = Seeded(container, client)
    main, school = ANA_KEYS
    s.hit(main, "https://example.com/course?utm_source=youtube&utm_medium=video", referrer="https://www.youtube.com/")
    s.hit(main, "https://example.com/pricing")
    s.hit(school, f"https://school.example/lesson?_csv={main}.{int(time.time())}")
    s.hit(school, "https://school.example/signup", kind="identify", email=ANA)
    s.hit(school, "https://school.example/checkout", kind="click")
    s.hit("ben-browser-0001", "https://example.com/?utm_source=instagram")
    s.hit("ben-browser-0001", "https://example.com/", kind="identify", email=BEN)
    s.idle()
    time.sleep(0.01)
    s.buy("k-ana-1", ANA.upper(), 19900, visitor_key=school)
    s.buy("k-ben-1", BEN, 5000)
    container.services.purchases().ingest(
        s.account_id, [RefundRecord("csv", "k-ana-1", "r-1", Money(900, "USD"), datetime.now(UTC))]
    )
    with container.gateways.unit_of_work() as uow:
        connection = uow.connections.add(
            Connection(s.account_id, "kajabi", ConnectionStatus.CONNECTED, datetime.now(UTC))
        )
        assert connection.id is not None
        payload = json.dumps({"id": "evt-1", "member": {"email": "Ana.Student@Example.com", "vid": main}}).encode()
        uow.webhook_deliveries.add(
            StoredDelivery(connection.id, "evt-1", payload, {"X-Buyer": ANA}, datetime.now(UTC), outcome=f"for {ANA}")
        )
        uow.commit()
    s.idle()
    return s


def every_row(engine: Any) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as connection:
        return {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in t.metadata.sorted_tables
        }


def _text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode(errors="replace")
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def find_everywhere(engine: Any, needles: list[str]) -> list[str]:
    """Every (table, column) holding one of the needles, in any letter case."""
    hits = []
    for name, rows in every_row(engine).items():
        for row in rows:
            for column, value in row.items():
                text = _text(value).lower()
                hits += [f"{name}.{column}: {needle}" for needle in needles if needle.lower() in text]
    return hits


def visitor_id_columns() -> list[tuple[str, str]]:
    return [
        (table.name, column.name)
        for table in t.metadata.sorted_tables
        for column in table.columns
        if any(fk.column.table is t.visitors for fk in column.foreign_keys) or column is t.visitors.c.id
    ]


def ids_of(engine: Any, keys: tuple[str, ...]) -> set[int]:
    with engine.connect() as connection:
        return set(connection.execute(select(t.visitors.c.id).where(t.visitors.c.visitor_key.in_(keys))).scalars())


def assert_ana_is_gone(engine: Any, ana_ids: set[int]) -> None:
    assert find_everywhere(engine, [ANA, *ANA_KEYS, *(f"visitor:{i}" for i in ana_ids)]) == []
    rows = every_row(engine)
    for table, column in visitor_id_columns():
        assert not {row[column] for row in rows[table]} & ana_ids, f"{table}.{column} still names Ana's visitors"


def counts_after_rebuild(engine: Any, account_id: int) -> tuple[list[Any], list[Any]]:
    with engine.begin() as connection:
        kept = sorted(tuple(r) for r in connection.execute(select(t.visitor_counts)))
        rebuild_visitor_counts(connection, account_id)
        rebuilt = sorted(tuple(r) for r in connection.execute(select(t.visitor_counts)))
    return kept, rebuilt


def test_erasure_through_the_api_leaves_nothing_of_the_person_anywhere(client, container) -> None:  # type: ignore[no-untyped-def]
    s = seed_people(container, client)
    engine = container.gateways.engine()
    ana_ids = ids_of(engine, ANA_KEYS)
    assert len(ana_ids) == 2
    # Seeded everywhere indeed: each of these tables names her before the erasure.
    found = {hit.split(".")[0] for hit in find_everywhere(engine, [ANA, *ANA_KEYS])}
    assert {"visitors", "visitor_emails", "purchases", "webhook_deliveries"} <= found
    rows = every_row(engine)
    for table in ("sessions", "events", "visitor_handoffs", "checkout_reaches", "purchase_touches"):
        assert {r["visitor_id"] if "visitor_id" in r else r["to_visitor_id"] for r in rows[table]} & ana_ids, table
    revenue_before = s.api("get", "/api/v1/reports/summary?range=all").get_json()["revenue"]

    response = s.api("post", "/api/v1/privacy/erase", json={"email": ANA})

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["visitors_erased"], body["purchases_detached"]) == (2, 1)
    assert_ana_is_gone(engine, ana_ids)
    # The sale stays in the totals, honestly unmatched; Ben keeps everything.
    assert s.api("get", "/api/v1/reports/summary?range=all").get_json()["revenue"] == revenue_before
    purchases = {p["email"]: p for p in s.api("get", "/api/v1/purchases").get_json()["purchases"]}
    assert purchases[None]["status"] == "erased"
    assert purchases[BEN]["status"] == "matched"
    kept, rebuilt = counts_after_rebuild(engine, s.account_id)
    assert kept == rebuilt
    assert s.api("get", f"/api/v1/privacy/export?email={ANA}").status_code == 404
    assert s.api("get", f"/api/v1/privacy/export?email={BEN}").status_code == 200


def test_api_export_and_its_refusals(client, container) -> None:  # type: ignore[no-untyped-def]
    s = seed_people(container, client)
    export = s.api("get", f"/api/v1/privacy/export?visitor_id={ANA_KEYS[0]}").get_json()
    assert export["emails"] == [ANA]
    assert export["visitor_ids"] == sorted(ANA_KEYS)
    tables = export["tables"]
    assert len(tables["visitors"]) == 2
    assert len(tables["events"]) == 5
    assert [c["email"] for c in tables["visitor_emails"]] == [ANA]
    assert len(tables["visitor_handoffs"]) == 1
    assert len(tables["checkout_reaches"]) == 1
    assert [p["platform_purchase_id"] for p in tables["purchases"]] == ["k-ana-1"]
    assert [r["amount"] for r in tables["refunds"]] == [900]
    assert {a["model"] for a in tables["attributions"]} == {"first_touch", "last_touch"}
    assert BEN not in json.dumps(export)

    missing = "Give the person's email address or their visitor id."
    for query in ("", "?visitor_id=", "?email=&visitor_id=%20"):
        refused = s.api("get", f"/api/v1/privacy/export{query}")
        assert (refused.status_code, refused.get_json()) == (400, {"error": missing}), query
    both = s.api("get", f"/api/v1/privacy/export?email={ANA}&visitor_id={ANA_KEYS[0]}")
    assert (both.status_code, both.get_json()["error"]) == (
        400,
        "Give either the person's email address or their visitor id, not both.",
    )
    twice = s.api("get", f"/api/v1/privacy/export?email={ANA}&email={BEN}")
    assert (twice.status_code, twice.get_json()) == (400, {"error": "email may be given only once"})
    assert client.get(f"/api/v1/privacy/export?email={ANA}").status_code == 401
    # Erasing needs the token itself, never only a browser's session cookie.
    sign_in(client, container, CREATOR)
    assert client.post("/api/v1/privacy/erase", json={"email": ANA}).status_code == 401
    not_json = s.api("post", "/api/v1/privacy/erase", data="nope")
    assert (not_json.status_code, not_json.get_json()) == (
        400,
        {"error": 'Send a JSON object: {"email": "..."} or {"visitor_id": "..."}.'},
    )
    not_text = s.api("post", "/api/v1/privacy/erase", json={"email": 7})
    assert (not_text.status_code, not_text.get_json()) == (400, {"error": "email and visitor_id are strings."})
    empty = s.api("post", "/api/v1/privacy/erase", json={"visitor_id": ""})
    assert (empty.status_code, empty.get_json()) == (400, {"error": missing})

    account = s.api("get", "/api/v1/privacy/account").get_json()
    assert account["account"]["email"] == CREATOR
    assert [site["public_key"] for site in account["tables"]["sites"]] == [s.site.public_key]
    assert "encrypted_credentials" not in account["tables"]["platform_integrations"][0]
    assert account["tracking_row_counts"]["visitors"] == 3
    assert "token_hash" not in json.dumps(account)


def test_export_and_erase_through_the_privacy_page(client, container) -> None:  # type: ignore[no-untyped-def]
    s = seed_people(container, client)
    sign_in(client, container, CREATOR)
    engine = container.gateways.engine()
    ana_ids = ids_of(engine, ANA_KEYS)
    page = client.get("/privacy/").get_data(as_text=True)
    assert f"/privacy/optout/{s.site.public_key}" in page
    assert "https://school.example/?cs_optout=1" in page

    download = post_form(client, "/privacy/export", {"export-email": ANA}, form_page="/privacy/")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith('attachment; filename="coursesignal-person-export-')
    assert json.loads(download.get_data())["emails"] == [ANA]
    unknown = post_form(client, "/privacy/export", {"export-email": "who@example.com"}, form_page="/privacy/")
    assert unknown.status_code == 400
    assert "Nothing is stored about this person" in unknown.get_data(as_text=True)
    assert client.post("/privacy/erase", data={"erase-email": ANA, "erase-confirm": "erase"}).status_code == 400

    unconfirmed = post_form(
        client, "/privacy/erase", {"erase-email": ANA, "erase-confirm": "yes"}, form_page="/privacy/"
    )
    assert unconfirmed.status_code == 400
    assert ids_of(engine, ANA_KEYS) == ana_ids
    erased = post_form(client, "/privacy/erase", {"erase-email": ANA, "erase-confirm": "erase"}, form_page="/privacy/")
    assert erased.headers["Location"] == "/privacy/"
    assert "Erased: 2 browsers" in client.get("/privacy/").get_data(as_text=True)
    assert_ana_is_gone(engine, ana_ids)

    account = post_form(client, "/privacy/account-export", {}, form_page="/privacy/")
    assert account.status_code == 200
    assert json.loads(account.get_data())["account"]["email"] == CREATOR


def test_erasure_and_export_from_the_cli(client, container, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from coursesignal.cli import main

    seed_people(container, client)
    engine = container.gateways.engine()
    ana_ids = ids_of(engine, ANA_KEYS)
    monkeypatch.setenv("COURSESIGNAL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COURSESIGNAL_INSTANCE_PATH", str(settings.instance_path))
    runner = CliRunner()

    exported = runner.invoke(main, ["privacy", "export", CREATOR, "--email", ANA])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.output)["emails"] == [ANA]
    refused = runner.invoke(main, ["privacy", "erase", CREATOR, "--visitor-id", ANA_KEYS[1]], input="no\n")
    assert refused.exit_code != 0
    assert ids_of(engine, ANA_KEYS) == ana_ids
    erased = runner.invoke(main, ["privacy", "erase", CREATOR, "--visitor-id", ANA_KEYS[1], "--yes"])
    assert erased.exit_code == 0, erased.output
    assert "2 browsers" in erased.output
    assert ANA not in erased.output
    assert_ana_is_gone(engine, ana_ids)
    unknown = runner.invoke(main, ["privacy", "export", "nobody@example.com", "--email", ANA])
    assert unknown.exit_code != 0
    assert "No account" in unknown.output


def test_the_client_address_is_never_stored(client, container) -> None:  # type: ignore[no-untyped-def]
    seed_people(container, client)
    engine = container.gateways.engine()
    assert find_everywhere(engine, [ANA_ADDRESS, ANA_ADDRESS.replace(".", "-")]) == []
    with engine.connect() as connection:
        fingerprints = set(connection.execute(select(t.checkout_reaches.c.fingerprint)).scalars())
    assert fingerprints - {None}  # the salted hash is there; the address it came from is not


def test_retention_deletes_old_raw_events_and_the_reports_keep_their_numbers(client, container) -> None:  # type: ignore[no-untyped-def]
    s = seed_people(container, client)
    engine = container.gateways.engine()
    reports = [
        s.api("get", f"/api/v1/reports/sources?range=all&model={model}").get_json()
        for model in ("first_touch", "last_touch")
    ]
    summary = s.api("get", "/api/v1/reports/summary?range=all").get_json()
    del summary["until"]  # the moment asked, not a number
    privacy = container.services.privacy()
    assert privacy.delete_expired_events() == 0
    later = datetime.now(UTC) + privacy.event_retention + timedelta(days=1)
    container.gateways.clock.override(providers.Object(FixedClock(later)))
    container.services.privacy.reset()  # made with the real clock above
    try:
        from adapters.jobs.tasks import delete_expired_events

        assert delete_expired_events() == 7
    finally:
        container.gateways.clock.reset_override()
        container.services.privacy.reset()
    with engine.connect() as connection:
        assert connection.execute(select(t.events)).first() is None
        assert connection.execute(select(t.sessions)).first() is not None
    assert [
        s.api("get", f"/api/v1/reports/sources?range=all&model={model}").get_json()
        for model in ("first_touch", "last_touch")
    ] == reports
    after = s.api("get", "/api/v1/reports/summary?range=all").get_json()
    del after["until"]
    assert after == summary


def test_the_hosted_opt_out_page_and_its_cookie(client, container) -> None:  # type: ignore[no-untyped-def]
    s = Seeded(container, client)
    page = client.get(f"/privacy/optout/{s.site.public_key}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'href="https://example.com/?cs_optout=1"' in text
    assert 'href="https://school.example/?cs_optout=1"' in text
    assert client.get("/privacy/optout/cs_nosuchsite").status_code == 404

    opted = post_form(client, f"/privacy/optout/{s.site.public_key}", {})
    assert opted.status_code == 200
    assert "opted out on our side too" in opted.get_data(as_text=True)
    assert "cs_optout=1" in opted.headers["Set-Cookie"]
    # The collect endpoint stores nothing from a browser carrying the cookie: not a visitor, not a count.
    s.hit("opted-out-browser", "https://example.com/?utm_source=youtube")
    s.idle()
    rows = every_row(container.gateways.engine())
    assert rows["visitors"] == []
    assert rows["events"] == []
    assert rows["visitor_counts"] == []

    post_form(client, f"/privacy/optin/{s.site.public_key}", {}, form_page=f"/privacy/optout/{s.site.public_key}")
    s.hit("opted-in-browser", "https://example.com/?utm_source=youtube")
    s.idle()
    assert len(every_row(container.gateways.engine())["events"]) == 1


@pytest.mark.parametrize("field", ["email", "visitor_id"])
def test_erasing_someone_unknown_changes_nothing(client, container, field) -> None:  # type: ignore[no-untyped-def]
    s = seed_people(container, client)
    engine = container.gateways.engine()
    before = every_row(engine)
    value = "nobody@example.com" if field == "email" else "unknown-visitor-id"
    body = s.api("post", "/api/v1/privacy/erase", json={field: value}).get_json()
    assert (body["visitors_erased"], body["purchases_detached"]) == (0, 0)
    after = every_row(engine)
    assert {k: len(v) for k, v in after.items()} == {k: len(v) for k, v in before.items()}


def test_every_table_is_in_an_export_or_names_no_one(container) -> None:  # type: ignore[no-untyped-def]
    """A table added later must be exported (and so thought about for erasure) or be declared anonymous."""
    reader = container.gateways.personal_data()
    exported = set(reader.person_rows(1, [1], [1])) | set(reader.account_rows(1)) | set(reader.tracking_counts(1))
    anonymous = {"billing_events", "fingerprint_salts"}  # Stripe event ids; the daily fingerprint salts
    assert {table.name for table in t.metadata.sorted_tables} - anonymous == exported


def test_old_events_are_deleted_in_batches_across_sites(container) -> None:  # type: ignore[no-untyped-def]
    from core.domain.events import EventKind, TrackerEvent

    accounts, tracking = container.services.accounts(), container.services.tracking()
    accounts.ensure_account(CREATOR)
    sites = [accounts.add_site(CREATOR, [f"site{n}.example"]) for n in range(2)]
    now = datetime.now(UTC)
    for site in sites:
        for n, age in enumerate([400, 300, 200, 1]):
            event = TrackerEvent(
                site_key=site.public_key,
                client_event_id=f"event{n:05d}",
                kind=EventKind.PAGEVIEW,
                visitor_key="visitor-0001",
                url=f"https://{site.allowed_domains[0]}/p{n}",
                received_at=now - timedelta(days=age),
                user_agent=BROWSER,
            )
            assert tracking.record(event).stored
    deleted = []
    for _ in range(3):
        with container.gateways.unit_of_work() as uow:
            deleted.append(uow.events.delete_older_than(now - timedelta(days=100), 4))
            uow.commit()
    assert deleted == [4, 2, 0]
    with container.gateways.engine().connect() as connection:
        left = list(connection.execute(select(t.events.c.url).order_by(t.events.c.url)).scalars())
    assert left == ["https://site0.example/p3", "https://site1.example/p3"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_retention_runs_daily_through_the_rq_scheduler(settings, redis_url: str) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from rq import Queue, SimpleWorker
    from rq.registry import ScheduledJobRegistry

    from adapters.jobs.rq_queue import connect_redis, run_periodically
    from core.domain.events import EventKind, TrackerEvent
    from core.services.privacy import RETENTION_EVERY_SECONDS, RETENTION_TASK
    from coursesignal.container import create_container

    queue_name = f"coursesignal-test-{uuid.uuid4().hex[:8]}"
    container = create_container(
        settings.__class__(**{**settings.__dict__, "redis_url": redis_url, "event_retention_days": 30}),
        queue_name=queue_name,
    )
    redis = connect_redis(redis_url)
    try:
        from adapters.persistence.migrate import upgrade

        upgrade(container.gateways.engine())
        accounts = container.services.accounts()
        accounts.ensure_account(CREATOR)
        site = accounts.add_site(CREATOR, ["example.com"])
        for n, age in enumerate([45, 2]):
            container.services.tracking().record(
                TrackerEvent(
                    site_key=site.public_key,
                    client_event_id=f"event{n:05d}",
                    kind=EventKind.PAGEVIEW,
                    visitor_key="visitor-0001",
                    url=f"https://example.com/p{n}",
                    received_at=datetime.now(UTC) - timedelta(days=age),
                    user_agent=BROWSER,
                )
            )
        job_queue = container.gateways.job_queue()
        job_queue.schedule_every(RETENTION_TASK, RETENTION_EVERY_SECONDS)
        registry = ScheduledJobRegistry(queue_name, connection=redis)
        (scheduled,) = registry.get_job_ids()
        assert scheduled.startswith(f"{queue_name}-every-{RETENTION_TASK}-")

        Queue(queue_name, connection=redis).enqueue(run_periodically, RETENTION_TASK, RETENTION_EVERY_SECONDS)
        assert SimpleWorker([queue_name], connection=redis).work(burst=True)
        with container.gateways.engine().connect() as connection:
            assert list(connection.execute(select(t.events.c.url)).scalars()) == ["https://example.com/p1"]
        assert registry.get_job_ids() == [scheduled]
    finally:
        Queue(queue_name, connection=redis).delete(delete_jobs=True)
        leftover = ScheduledJobRegistry(queue_name, connection=redis)
        for job_id in leftover.get_job_ids():
            leftover.remove(job_id, delete_job=True)
        container.unwire()
        container.gateways.engine().dispose()
