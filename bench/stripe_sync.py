"""How long the Stripe sales plugin takes to sync 30 days of charges from the local fake Stripe.

    PYTHONPATH=. .venv/bin/python bench/stripe_sync.py --sales 2000

Prints the wall time, the records returned and the requests made, by path: the sync reads Checkout
Sessions (with their line items), payment intents and charges 100 a page, and looks a Customer up only
when nothing else names the buyer.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from coursesignal import PurchaseRecord, RefundRecord
from plugins.stripe_sales import StripeSalesPlatform
from tests.fakes.stripe import FakeStripe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sales", type=int, default=1000)
    args = parser.parse_args()

    with FakeStripe() as fake:
        fake.seed_sales(args.sales, days=30, seed=1)
        platform = StripeSalesPlatform(api_url=fake.base_url)
        credentials = {"api_key": fake.add_restricted_key(), "webhook_secret": fake.webhook_secret}
        read: list[int] = []

        def progress(done: int, total: int | None, *, pages: int | None = None) -> None:
            read.append(pages or 0)

        started = time.perf_counter()
        records = list(platform.fetch_purchases(credentials, datetime.now(UTC) - timedelta(days=30), progress))
        elapsed = time.perf_counter() - started
        calls = Counter(r.path for r in fake.requests)

    purchases = sum(isinstance(r, PurchaseRecord) for r in records)
    refunds = sum(isinstance(r, RefundRecord) for r in records)
    without_email = sum(isinstance(r, PurchaseRecord) and r.email is None for r in records)
    print(f"sales seeded:        {args.sales}")
    print(f"purchases returned:  {purchases} ({without_email} without any email, kept), refunds: {refunds}")
    print(f"pages read:          {max(read or [0])}")
    print(f"wall time:           {elapsed:.2f} s ({1000 * elapsed / max(1, purchases):.2f} ms/purchase)")
    print(f"requests:            {sum(calls.values())} {dict(sorted(calls.items()))}")


if __name__ == "__main__":
    main()
