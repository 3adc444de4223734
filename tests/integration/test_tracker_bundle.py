"""The committed tracking script: within budget, ES2017 only, byte-identical to a fresh build, served
with gzip, a strong ETag and caching headers."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
TRACKER = ROOT / "tracker"
BUNDLE = ROOT / "adapters" / "web" / "static" / "t.js"


def test_bundle_is_within_its_size_budget() -> None:
    data = BUNDLE.read_bytes()
    assert len(data) <= 5000, f"minified t.js is {len(data)} B (budget 5000 B)"
    gzipped = len(gzip.compress(data, compresslevel=9, mtime=0))
    assert gzipped <= 2048, f"gzip -9 t.js is {gzipped} B (budget 2048 B)"


def test_bundle_is_an_es2017_iife_without_newer_syntax() -> None:
    text = BUNDLE.read_text("utf-8")
    assert text.startswith("(()=>{")
    assert text.rstrip().endswith("})();")
    # optional chaining / nullish coalescing would break ES2017 browsers (`a?.5:b` is a ternary)
    assert not re.search(r"\?\.(?!\d)", text)
    assert "??" not in text
    assert "sourceMappingURL" not in text


def test_the_committed_script_is_a_fresh_build_of_the_source(tmp_path: Path) -> None:
    npm = shutil.which("npm")
    require(npm is not None, "npm is not installed: cannot rebuild tracker/src/t.js to compare")
    assert npm is not None
    # Build a copy with the project's own `npm run build`: its output lands beside the copy, not in the tree.
    copy = tmp_path / "tracker"
    shutil.copytree(TRACKER, copy, ignore=shutil.ignore_patterns("node_modules"))
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=copy, check=True, timeout=300)
    subprocess.run([npm, "run", "--silent", "build"], cwd=copy, check=True, timeout=60, capture_output=True)
    fresh = tmp_path / "adapters" / "web" / "static" / "t.js"
    assert fresh.read_bytes() == BUNDLE.read_bytes(), (
        "adapters/web/static/t.js is stale: run `npm run build` in tracker/"
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_t_js_is_served_gzipped_with_a_strong_etag_and_caching(client) -> None:  # type: ignore[no-untyped-def]
    plain = client.get("/t.js")
    assert plain.status_code == 200
    assert plain.data == BUNDLE.read_bytes()
    assert plain.mimetype == "text/javascript"
    etag = plain.headers["ETag"]
    assert etag.startswith('"')  # strong: no W/ prefix
    assert "max-age=" in plain.headers["Cache-Control"]
    assert plain.headers["Access-Control-Allow-Origin"] == "*"

    zipped = client.get("/t.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"  # no Cookie: caches share it
    assert "Set-Cookie" not in zipped.headers
    assert gzip.decompress(zipped.data) == BUNDLE.read_bytes()
    assert zipped.headers["ETag"] != etag  # a strong ETag names exact bytes, so each encoding has its own

    assert client.get("/t.js", headers={"If-None-Match": etag}).status_code == 304
