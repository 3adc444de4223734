"""A 30-day Teachable sync against the local fake: wall time and API requests by kind (pages of
transactions, one lookup per buyer, pricing plan and course), with optional throttling whose backoff
is recorded rather than slept.

Usage: python -m bench.teachable_sync [--purchases 1000] [--throttled 0]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from coursesignal import RetryingHttp
from plugins.teachable import TeachablePlatform
from tests.fakes.teachable import FakeTeachable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--purchases", type=int, default=1000)
    parser.add_argument("--throttled", type=int, default=0, help="answer 429 to this many of the first requests")
    args = parser.parse_args()

    waits: list[float] = []
    with FakeTeachable() as fake:
        platform = TeachablePlatform(api_url=fake.api_url, http=RetryingHttp("Teachable", sleep=waits.append))
        fake.seed_random(args.purchases, days=29, seed=1)
        fake.throttle_next(args.throttled, reset=1)
        credentials = {"api_key": fake.api_key}
        started = time.perf_counter()
        records = list(platform.fetch_purchases(credentials, datetime.now(UTC) - timedelta(days=30), lambda d, t: None))
        elapsed = time.perf_counter() - started
        kinds = Counter(r.path.split("/")[2] for r in fake.requests)
        buyers = len(fake.users)

    print(f"purchases seeded:          {args.purchases} ({buyers} buyers)")
    print(f"records returned:          {len(records)}")
    print(f"wall time:                 {elapsed:.2f} s ({1000 * elapsed / max(1, len(records)):.2f} ms/record)")
    print(f"requests:                  {sum(kinds.values())} {dict(sorted(kinds.items()))}")
    print(f"backoff waited (recorded): {sum(waits):.1f} s over {len(waits)} retries")


if __name__ == "__main__":
    main()
