"""The suite's own service fixtures: what one PostgreSQL test wrote is gone for the next, ids start again at 1;
each test session (each pytest-xdist worker) has a Redis database number nobody else uses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis import Redis
from sqlalchemy import create_engine, func, insert, select

from adapters.persistence.tables import metadata, sites, users
from tests.conftest import empty_postgres
from tests.production import CLAIM_KEY, own_redis_database


@pytest.mark.postgres
def test_emptying_the_database_leaves_no_row_and_restarts_every_id(postgres_database: str) -> None:
    engine = create_engine(postgres_database)
    empty_postgres(postgres_database)  # whatever an earlier test on this session's database left
    try:
        for _ in range(2):
            with engine.begin() as connection:
                user_id = connection.execute(
                    insert(users)
                    .values(email="creator@example.com", created_at=datetime.now(UTC))
                    .returning(users.c.id)
                ).scalar_one()
                site_id = connection.execute(
                    insert(sites)
                    .values(user_id=user_id, public_key="cs_test", allowed_domains=[])
                    .returning(sites.c.id)
                ).scalar_one()
            assert (user_id, site_id) == (1, 1)
            empty_postgres(postgres_database)
            with engine.connect() as connection:
                for table in metadata.sorted_tables:
                    assert connection.execute(select(func.count()).select_from(table)).scalar_one() == 0, table.name
    finally:
        engine.dispose()


@pytest.mark.redis
def test_a_session_s_redis_database_is_claimed_and_no_other_claim_gets_it(redis_url: str) -> None:
    mine = Redis.from_url(redis_url)
    assert mine.get(CLAIM_KEY) is not None
    with own_redis_database(redis_url) as other_url, own_redis_database(redis_url) as third_url:
        assert len({redis_url, other_url, third_url}) == 3
        other = Redis.from_url(other_url)
        other.set("suite-fixtures-left-over", "1")
    assert other.dbsize() == 0, "a claimed database keeps keys after its run"
    other.close()
    mine.close()
