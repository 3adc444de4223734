"""Run the fake standalone for manual clicking: ``python -m tests.fakes.teachable --port 8766 --seed 100``."""

from __future__ import annotations

import argparse

from .fake import FakeTeachable


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.teachable", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random purchases to generate")
    parser.add_argument("--days", type=int, default=30, help="window the random purchases fall in")
    parser.add_argument("--random-seed", type=int, default=None, help="make --seed reproducible")
    parser.add_argument("--api-key", default="demo-teachable-api-key")
    parser.add_argument("--no-api-access", action="store_true", help="answer 403, as a plan without the API")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    fake = FakeTeachable(host=args.host, port=args.port, api_key=args.api_key, verbose=args.verbose)
    fake.api_access = not args.no_api_access
    if args.seed:
        fake.seed_random(args.seed, days=args.days, seed=args.random_seed)
    fake.start()
    print(f"Fake Teachable Admin API listening on {fake.api_url}", flush=True)
    print(f"  apiKey: {fake.api_key}")
    print(f"  courses: {len(fake.courses)}; users: {len(fake.users)}; transactions: {len(fake.transactions)}")
    print(f"  try: curl -s -H 'apiKey: {fake.api_key}' '{fake.api_url}/transactions?per=2'")
    print("Ctrl-C to stop.", flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
