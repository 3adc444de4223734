"""Run the fake Stripe standalone, with a creator's sales, to connect Stripe from a browser:

python -m tests.fakes.stripe --port 8767 --seed 100
COURSESIGNAL_STRIPE_API_URL=http://127.0.0.1:8767 make run      # in another terminal
"""

from __future__ import annotations

import argparse
import time

from tests.fakes.stripe.server import SALES_PERMISSIONS, FakeStripe

DEMO_KEY = "rk_test_coursesignal_demo"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.stripe", description=__doc__)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random sales of the last 30 days")
    parser.add_argument("--random-seed", type=int, default=None, help="make --seed reproducible")
    args = parser.parse_args(argv)

    with FakeStripe(port=args.port) as fake:
        if args.seed:
            fake.seed_sales(args.seed, seed=args.random_seed)
        fake.restricted_keys[DEMO_KEY] = frozenset(SALES_PERMISSIONS)
        key = DEMO_KEY
        print(f"Fake Stripe API listening on {fake.base_url}", flush=True)
        print(f"  restricted key (read on charges, payment intents, customers, sessions, events): {key}")
        print(f"  secret key: {fake.secret_key}; webhook signing secret: {fake.webhook_secret}")
        print(f"  charges: {len(fake.charges)}. Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
