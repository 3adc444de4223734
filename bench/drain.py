"""How fast the workers empty a backlog of tracker events, on PostgreSQL and Redis (production settings).

    .venv/bin/python -m bench.drain                       # 1 worker, then 2, on 3 creators' traffic
    .venv/bin/python -m bench.drain --visitors 1000 --workers 1 --workers 2 --workers 3

The browsers of bench/scale_out.py (the same seeded plan, the sales left out) send their events to one app
instance while no worker runs; once every event is answered, `--workers` workers start, and the bench times
them from their start until no accepted event waits (so the rate includes the workers' start), and prints
the rate between the first and the last event processed too (without it).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select

from adapters.persistence import tables as t
from bench.scale_out import World, fakes, plan
from tests.production import deployment, migrated_database


def drain(workers: int, creators: int, visitors: int, *, admin_url: str, redis_url: str, template: str) -> str:
    visits = [replace(visit, buys=None) for visit in plan(1, creators, visitors)]
    with (
        tempfile.TemporaryDirectory(prefix="coursesignal-drain-") as folder,
        fakes() as (kajabi, stripe),
        deployment(admin_url, redis_url, Path(folder), template=template) as deployed,
    ):
        deployed.start_apps(1)
        world = World(deployed, kajabi, stripe, creators, sales=False)
        try:
            outcome = world.play(visits, senders=6, seed=1)
            load = os.getloadavg()
            inbound = t.inbound_events.c

            def waiting() -> int:
                with world.engine.connect() as db:
                    query = select(func.count()).select_from(t.inbound_events).where(inbound.processed_at.is_(None))
                    return int(db.execute(query).scalar_one())

            backlog = waiting()
            for _ in range(workers):
                deployed.start_worker()
            took = world.wait(lambda: waiting() == 0, 1800, "the backlog drained")
            with world.engine.connect() as db:
                first = db.execute(select(func.min(inbound.processed_at))).scalar_one()
                last = db.execute(select(func.max(inbound.processed_at))).scalar_one()
            busy = (last - first).total_seconds()
            return (
                f"{workers} worker(s): {backlog} waiting events ({len(outcome.events_accepted)} accepted at "
                f"{len(outcome.events_accepted) / outcome.seconds:.0f}/s by 1 instance) drained in {took:.1f} s from "
                f"the start = {backlog / took:.0f} events/s; first to last processed {busy:.1f} s = "
                f"{backlog / busy:.0f} events/s; load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
            )
        finally:
            world.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creators", type=int, default=3)
    parser.add_argument("--visitors", type=int, default=500, help="per creator")
    parser.add_argument("--workers", type=int, action="append", help="repeatable; default 1 then 2")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    with migrated_database(args.postgres) as template:
        for workers in args.workers or [1, 2]:
            options = {"admin_url": args.postgres, "redis_url": args.redis, "template": template}
            print(drain(workers, args.creators, args.visitors, **options), flush=True)


if __name__ == "__main__":
    main()
