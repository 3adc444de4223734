"""Prints the tracking script's sizes against its budget: minified <= 5,000 B and gzip -9 <= 2,048 B.

Usage: python bench/tracker_size.py
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "adapters" / "web" / "static" / "t.js"
BUDGET_MINIFIED = 5000
BUDGET_GZIP = 2048


def main() -> int:
    data = SCRIPT.read_bytes()
    gzipped = len(gzip.compress(data, compresslevel=9, mtime=0))
    within = len(data) <= BUDGET_MINIFIED and gzipped <= BUDGET_GZIP
    print(
        f"t.js minified={len(data)} B (budget {BUDGET_MINIFIED}) gzip-9={gzipped} B (budget {BUDGET_GZIP}) "
        f"{'within budget' if within else 'OVER BUDGET'}"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
