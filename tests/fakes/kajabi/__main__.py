"""Run the fake standalone for manual clicking: ``python -m tests.fakes.kajabi --port 8765 --seed 200``."""

from __future__ import annotations

import argparse

from .fake import FakeKajabi


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.kajabi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random purchases to generate")
    parser.add_argument("--days", type=int, default=30, help="window the random purchases fall in")
    parser.add_argument("--random-seed", type=int, default=None, help="make --seed reproducible")
    parser.add_argument("--client-id", default="demo-kajabi-client-id")
    parser.add_argument("--client-secret", default="demo-kajabi-client-secret")
    parser.add_argument("--token-lifetime", type=int, default=7200, help="expires_in of access tokens (s)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    fake = FakeKajabi(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_lifetime=args.token_lifetime,
        verbose=args.verbose,
    )
    if args.seed:
        fake.seed_random(args.seed, days=args.days, seed=args.random_seed)
    fake.start()
    sites = ", ".join(f"{s.id} ({s.title})" for s in fake.store.sites.values()) or "none"
    print(f"Fake Kajabi API listening on {fake.base_url}", flush=True)
    print(f"  client_id:     {fake.client_id}")
    print(f"  client_secret: {fake.client_secret}")
    print(f"  sites: {sites}; purchases: {len(fake.purchases)}; transactions: {len(fake.transactions)}")
    print(
        f"  try: curl -s -d grant_type=client_credentials -d client_id={fake.client_id} "
        f"-d client_secret={fake.client_secret} {fake.base_url}/v1/oauth/token"
    )
    print("Ctrl-C to stop.", flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
