"""Two app instances and two workers on one PostgreSQL and one Redis give exactly the figures one instance
and one worker give for the same traffic, with nothing lost and nothing stored twice (bench/scale_out.py at a
small scale: tracker events and signed Stripe and URL-token Kajabi webhooks together, some sent twice)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from bench.scale_out import compare, plan, run
from tests.conftest import POSTGRES_ADMIN_URL, record_figure, require
from tests.production import migrated_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CREATORS = 2  # one selling on Kajabi, one on Stripe


def _postgres_reachable() -> bool:
    engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def test_two_instances_and_two_workers_store_everything_once_and_report_like_one(redis_url: str) -> None:
    require(_postgres_reachable(), f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}")
    visits = plan(seed=7, creators=CREATORS, visitors=25)
    assert sum(1 for visit in visits if visit.buys) >= 4  # sales on both platforms, not only page views
    options = {"admin_url": POSTGRES_ADMIN_URL, "redis_url": redis_url, "senders": 4, "seed": 7}

    # The two deployments share nothing (each its own database, Redis number and fake platforms): run at once.
    with migrated_database(POSTGRES_ADMIN_URL) as template, ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(run, n, visits, CREATORS, template=template, **options) for n in (2, 1)]
        many, one = (done.result() for done in runs)  # raises on anything lost or stored twice

    assert {platform for sales in many.outcome.sales.values() for platform, _ in sales} == {"kajabi", "stripe"}
    assert many.outcome.repeats > 0  # repeated webhooks were sent, answered 200 and not stored again
    for key in ("events", "purchases", "deliveries"):
        assert many.stored[key] == one.stored[key], key
    assert len(many.outcome.events_accepted) == sum(len(visit.hits) for visit in visits)
    assert compare(many, one) == []
    assert any(figure[1] == "summary" and figure[2] > 0 for figure in many.reports)
    record_figure(
        "scale-out",
        f"2 apps + 2 workers and 1 + 1: {many.stored['events']} events, {many.stored['purchases']} purchases, "
        f"the same {len(many.reports)} report figures",
    )
