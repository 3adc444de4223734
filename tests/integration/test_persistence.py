"""Repositories, unit of work, report queries and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from adapters.persistence.database import create_database_engine
from adapters.persistence.queries import SqlReportQueries
from adapters.persistence.tables import metadata
from adapters.persistence.unit_of_work import SqlUnitOfWork
from core.domain.attribution import Credit, Model
from core.domain.events import EventKind, TrackerEvent
from core.domain.money import Money
from core.domain.purchases import MatchMethod, Purchase, RefundRecord
from core.domain.sites import Account, Site
from core.domain.touches import touch_from_landing
from core.domain.visitors import Session, Visitor

T0 = datetime(2026, 10, 1, 9, 30, 15, 123456, tzinfo=UTC)


def test_migrations_create_exactly_the_described_schema(database_url: str) -> None:
    engine = create_database_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert differences == []
    assert {t.name for t in metadata.sorted_tables} <= tables


def _seed(uow: SqlUnitOfWork) -> tuple[Account, Site, Visitor]:
    account = uow.accounts.add(Account(email="creator@example.com", created_at=T0))
    site = uow.sites.add(Site(account_id=account.id or 0, public_key="cs_test", allowed_domains=("example.com",)))
    visitor, _ = uow.visitors.get_or_add(Visitor(site_id=site.id or 0, key="visitor01", first_seen_at=T0))
    return account, site, visitor


def test_repositories_round_trip_domain_objects_with_utc_times(database_url: str) -> None:
    engine = create_database_engine(database_url)
    touch = touch_from_landing(
        url="https://example.com/?utm_source=yt&utm_campaign=launch",
        referrer=None,
        occurred_at=T0,
        own_domains=frozenset({"example.com"}),
    )
    with SqlUnitOfWork(engine) as uow:
        account, site, visitor = _seed(uow)
        visitor.record_touch(touch)
        visitor.identify("buyer@example.com")
        uow.visitors.update(visitor)
        session = uow.sessions.add(Session(visitor_id=visitor.id or 0, touch=touch, started_at=T0, last_seen_at=T0))
        event = TrackerEvent(
            site_key="cs_test",
            client_event_id="event0001",
            kind=EventKind.PAGEVIEW,
            visitor_key="visitor01",
            url="https://example.com/",
            received_at=T0,
        )
        assert uow.events.add(event, site.id or 0, visitor.id or 0, session.id)
        assert not uow.events.add(event, site.id or 0, visitor.id or 0, session.id)
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        loaded = uow.visitors.with_email(account.id or 0, "buyer@example.com")[0]
        assert loaded.first_touch == touch
        assert loaded.first_touch.occurred_at.tzinfo is UTC
        assert uow.sessions.touches(visitor.id or 0) == [touch]
        latest = uow.sessions.latest(visitor.id or 0)
        assert latest is not None
        assert latest.touch == touch
        assert uow.sites.get_by_key("cs_test") == site
        assert uow.visitors.with_key(account.id or 0, "visitor01") == loaded
        assert uow.visitors.with_key((account.id or 0) + 1, "visitor01") is None
    engine.dispose()


def test_nothing_is_kept_without_commit(database_url: str) -> None:
    engine = create_database_engine(database_url)
    with SqlUnitOfWork(engine) as uow:
        uow.accounts.add(Account(email="creator@example.com", created_at=T0))
    with SqlUnitOfWork(engine) as uow:
        assert uow.accounts.get_by_email("creator@example.com") is None
    engine.dispose()


def test_report_queries_count_visitors_revenue_net_of_refunds_and_unmatched(database_url: str) -> None:
    engine = create_database_engine(database_url)
    youtube = touch_from_landing(
        url="https://example.com/?utm_source=youtube", referrer=None, occurred_at=T0, own_domains=frozenset()
    )
    with SqlUnitOfWork(engine) as uow:
        account, _site, visitor = _seed(uow)
        visitor.record_touch(youtube)
        uow.visitors.update(visitor)
        uow.sessions.add(Session(visitor_id=visitor.id or 0, touch=youtube, started_at=T0, last_seen_at=T0))
        matched = uow.purchases.add(
            Purchase(
                account_id=account.id or 0,
                platform="csv",
                platform_purchase_id="p1",
                amount=Money(10000, "USD"),
                purchased_at=T0 + timedelta(days=1),
                email="buyer@example.com",
            )
        )
        matched.match(visitor.id or 0, MatchMethod.EMAIL)
        uow.purchases.update(matched)
        uow.purchases.replace_credits(
            matched.id or 0, [Credit(Model.FIRST_TOUCH, youtube), Credit(Model.LAST_TOUCH, youtube)]
        )
        assert uow.purchases.add_refund(matched.id or 0, RefundRecord("csv", "p1", "r1", Money(2500, "USD"), T0))
        uow.purchases.add(
            Purchase(
                account_id=account.id or 0,
                platform="csv",
                platform_purchase_id="p2",
                amount=Money(700, "USD"),
                purchased_at=T0,
                email="x@example.com",
            )
        )
        uow.purchases.add(
            Purchase(
                account_id=account.id or 0,
                platform="csv",
                platform_purchase_id="p3",
                amount=Money(900, "EUR"),
                purchased_at=T0,
                email="y@example.com",
            )
        )
        uow.commit()
    queries = SqlReportQueries(engine)
    now = T0 + timedelta(days=10)
    (row,) = queries.source_totals(account.id or 0, model=Model.FIRST_TOUCH, currency="USD", since=None, until=now)
    assert (row.source, row.channel, row.visitors, row.revenue, row.students, row.purchases) == (
        "YouTube",
        "Organic Video",
        1,
        7500,
        1,
        1,
    )
    unmatched = queries.unmatched_totals(account.id or 0, currency="USD", since=None, until=now)
    assert (unmatched.revenue, unmatched.purchases) == (700, 1)
    assert queries.currencies(account.id or 0) == ["USD", "EUR"]
    assert (
        queries.source_totals(
            account.id or 0, model=Model.FIRST_TOUCH, currency="USD", since=now - timedelta(days=1), until=now
        )
        == []
    )
    assert (
        queries.source_totals((account.id or 0) + 1, model=Model.FIRST_TOUCH, currency="USD", since=None, until=now)
        == []
    )
    engine.dispose()


def test_the_raw_utm_source_migration_fills_history_from_the_landing_pages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Sessions stored before 0020 kept the link's query in their landing page: the raw value comes from it,
    and the visitor counts a source's "Tagged as" breakdown reads are rebuilt to include it."""
    from sqlalchemy import insert, select

    from adapters.persistence import tables as t
    from adapters.persistence.migrate import upgrade

    engine = create_database_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0019_business_metrics")
    with engine.begin() as c:
        c.execute(insert(t.users).values(id=1, email="creator@example.com", created_at=T0))
        c.execute(insert(t.sites).values(id=1, user_id=1, public_key="cs_old", allowed_domains=["example.com"]))
        for n, landing in enumerate(["https://example.com/?utm_source=yt&utm_medium=video", "https://example.com/"]):
            c.execute(
                insert(t.visitors).values(id=n + 1, site_id=1, user_id=1, visitor_key=f"old{n}", first_seen_at=T0)
            )
            c.execute(
                insert(t.sessions).values(
                    visitor_id=n + 1,
                    user_id=1,
                    started_at=T0,
                    last_seen_at=T0,
                    source="YouTube",
                    channel="Organic Video",
                    landing_page=landing,
                )
            )
    upgrade(engine)
    with engine.connect() as c:
        assert sorted(c.execute(select(t.sessions.c.utm_source)).scalars(), key=str) == [None, "yt"]
        v = t.visitor_counts.c
        tagged = c.execute(
            select(v.model, v.value, v.visitors).where(v.dimension == "source_tagged", v.source == "YouTube")
        ).all()
    engine.dispose()
    assert sorted(tagged) == [
        ("first_touch", "", 1),
        ("first_touch", "yt", 1),
        ("last_touch", "", 1),
        ("last_touch", "yt", 1),
    ]
