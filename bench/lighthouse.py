"""Lighthouse on the dashboard: performance and accessibility scores, against Debian's chromium.

    .venv/bin/python -m bench.lighthouse                       # 1M events on PostgreSQL
    .venv/bin/python -m bench.lighthouse --events 100000 --database sqlite

Lighthouse is the npm package pinned in bench/lighthouse/package-lock.json (`npm ci` there installs it; this
script does so on first use). The app is served exactly as bench/page_load.py serves it (the benchmark
database of bench/reports.py, a signed-in session cookie sent as a header), and Lighthouse runs twice per
page: its mobile preset (a throttled phone, its default) and its desktop preset. Scores are 0-100.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess  # nosec B404 - runs the pinned Lighthouse CLI with arguments we build, no shell
from pathlib import Path
from typing import Any

from bench.page_load import CHROMIUM, serve

FOLDER = Path(__file__).parent / "lighthouse"
CLI = FOLDER / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility")


def _installed() -> Path:
    if not CLI.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=FOLDER, check=True)  # noqa: S607  # nosec B603 B607
    return CLI


def audit(url: str, cookie: str, *, desktop: bool) -> dict[str, Any]:
    """One Lighthouse run; returns the parsed report."""
    command = [
        str(_installed()),
        url,
        "--quiet",
        "--output=json",
        "--output-path=stdout",
        f"--only-categories={','.join(CATEGORIES)}",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu --no-first-run",
        f"--extra-headers={json.dumps({'Cookie': f'session={cookie}'})}",
        *(["--preset=desktop"] if desktop else []),
    ]
    done = subprocess.run(  # noqa: S603  # nosec B603
        command, capture_output=True, text=True, check=True, env={**os.environ, "CHROME_PATH": CHROMIUM}
    )
    return dict(json.loads(done.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'database':<11}{'events':>11}  {'page':<34}{'preset':<9}{'perf':>6}{'a11y':>6}{'LCP ms':>8}{'TBT ms':>8}")
    with serve(args.database, args.events) as (base_url, cookie, top):
        pages = {
            "dashboard (30d, first touch)": "/dashboard",
            "purchases": "/purchases",
            f"drill-down {top} (30d)": f"/dashboard/sources/{top}",
        }
        for name, path in pages.items():
            for desktop in (False, True):
                report = audit(base_url + path, cookie, desktop=desktop)
                if report.get("finalDisplayedUrl", "").split("?")[0].endswith("/login"):
                    raise SystemExit(f"{path}: Lighthouse was sent to the sign-in page")
                scores = [round(100 * (report["categories"][c]["score"] or 0)) for c in CATEGORIES]
                lcp = report["audits"]["largest-contentful-paint"]["numericValue"]
                tbt = report["audits"]["total-blocking-time"]["numericValue"]
                preset = "desktop" if desktop else "mobile"
                print(
                    f"{args.database:<11}{args.events:>11,}  {name:<34}{preset:<9}{scores[0]:>6}{scores[1]:>6}"
                    f"{lcp:>8.0f}{tbt:>8.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
