"""Shared fixtures: real services (SQLite, PostgreSQL, Redis) for integration tests.

With CI=true a missing PostgreSQL, Redis or chromium fails the run; elsewhere those tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "COURSESIGNAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# The Redis server the tests use; each test session (each pytest-xdist worker) claims a database number of its
# own there (the `redis_database` fixture), so the number in this URL is not used.
REDIS_TEST_URL = os.environ.get("COURSESIGNAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# A fixed Fernet key for tests (32 bytes, url-safe base64): never a production key.
TEST_ENCRYPTION_KEY = "dGVzdC1vbmx5LWtleS1jb3Vyc2VzaWduYWwtMzJieXQ="
CHROMIUM = os.environ.get("COURSESIGNAL_TEST_CHROMIUM", "/usr/bin/chromium")


# Figures tests measure as they go (fuzz cases run, endpoints covered), printed at the end of the run.
_FIGURES: dict[str, str] = {}


def record_figure(name: str, value: str) -> None:
    _FIGURES[name] = value


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand the figures it recorded to the controller, which prints the summary."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["coursesignal_figures"] = dict(_FIGURES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: collect each worker's figures as it finishes."""
    _FIGURES.update(getattr(node, "workeroutput", {}).get("coursesignal_figures", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("figures")
        for name, value in sorted(_FIGURES.items()):
            terminalreporter.write_line(f"{name}: {value}")


def require(available: bool, reason: str) -> None:
    """Skip with the reason on a laptop; fail in CI, where every service must be there."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


# --- PostgreSQL -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of our own on the local PostgreSQL, migrated once and dropped at the end."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        admin.dispose()
        require(False, f"PostgreSQL is not reachable at {make_url(POSTGRES_ADMIN_URL).render_as_string()} ({error})")
    name = f"coursesignal_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    from adapters.persistence.database import create_database_engine
    from adapters.persistence.migrate import upgrade

    engine = create_database_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def empty_postgres(url: str) -> None:
    """Every table emptied and every id sequence back at its start, as a fresh migration leaves them.

    DELETE, children first, and setval on the sequences a test used: a TRUNCATE of every table makes new
    files for all of them and took over a second per test; deleting the few rows a test wrote takes a tenth."""
    from adapters.persistence.tables import metadata

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
            connection.execute(
                text(
                    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
                    "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
                )
            )
    finally:
        engine.dispose()


def table_rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, by table name: a snapshot `restore_rows` writes back into an empty database."""
    from adapters.persistence.tables import metadata

    with engine.connect() as connection:
        return {
            table.name: [dict(row) for row in connection.execute(select(table)).mappings()]
            for table in metadata.sorted_tables
        }


def restore_rows(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Write a `table_rows` snapshot into an empty database, ids included; PostgreSQL's id sequences carry on
    after the highest id, as if the rows had been added one by one."""
    from adapters.persistence.tables import metadata

    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            if rows.get(table.name):
                connection.execute(table.insert(), rows[table.name])
        if connection.dialect.name != "postgresql":
            return  # SQLite numbers a new row after the highest id there is
        for table in metadata.sorted_tables:
            (key, *more) = table.primary_key.columns
            if rows.get(table.name) and not more and key.autoincrement in (True, "auto"):
                connection.execute(
                    text("SELECT setval(pg_get_serial_sequence(:table, :column), :value)"),
                    {"table": table.name, "column": key.name, "value": max(row[key.name] for row in rows[table.name])},
                )


# --- SQLite -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test: migrating once keeps the suite fast."""
    from adapters.persistence.database import create_database_engine
    from adapters.persistence.migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_database_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "coursesignal.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_database")
        yield url
        empty_postgres(url)


# --- Redis --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_database() -> Iterator[str]:
    """The URL of a Redis database number this session claimed on the test server (an empty one, marked as
    taken, as tests/production.py's deployments claim theirs): two pytest-xdist workers, or two helpers' runs,
    never see each other's keys. At the end only its own keys are deleted."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
    except RedisError as error:
        require(False, f"Redis is not reachable at {REDIS_TEST_URL} ({error})")
    from tests.production import own_redis_database

    with own_redis_database(REDIS_TEST_URL) as url:
        yield url


@pytest.fixture
def redis_url(redis_database: str) -> str:
    return redis_database


# --- The application ----------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    return app_settings(database_url, tmp_path)


def app_settings(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The app's settings in tests: no Redis, a test secret and encryption key, files under tmp_path."""
    from coursesignal.settings import Settings

    return Settings(
        database_url=database_url,
        redis_url=None,
        base_url="http://coursesignal.test",
        instance_path=tmp_path / "instance",
        environment="test",
        secret_key="test-secret-key",
        encryption_keys=(TEST_ENCRYPTION_KEY,),
    )


@pytest.fixture
def container(settings):  # type: ignore[no-untyped-def]
    from coursesignal.container import create_container

    container = create_container(settings)
    yield container
    job_queue = container.gateways.job_queue()
    job_queue.stop()
    container.unwire()
    container.gateways.inbox().close()
    container.gateways.engine().dispose()


@pytest.fixture
def app(settings, container):  # type: ignore[no-untyped-def]
    from coursesignal.container import build_app

    app = build_app(settings, container)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def sign_in(client, container, email: str = "creator@example.com") -> int:  # type: ignore[no-untyped-def]
    """Sign a verified account in on the test client without going through the forms (those have their own
    tests); returns the account id."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from adapters.persistence.tables import users

    accounts = container.services.accounts()
    account_id = accounts.ensure_account(email).id
    with container.gateways.engine().begin() as connection:
        connection.execute(
            update(users)
            .where(users.c.id == account_id, users.c.email_verified_at.is_(None))
            .values(email_verified_at=datetime.now(UTC))
        )
    account = accounts.get(account_id)
    signed_in_at = int(container.gateways.clock().now().timestamp())
    with client.session_transaction() as session:
        session["_user_id"] = f"{account.id}:{account.session_version}:{signed_in_at}"
        session["cs_seen"] = signed_in_at
        session["cs_remember"] = False
    return int(account_id)
