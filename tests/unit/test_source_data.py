"""The maintained data the classifier ships with: what docs/tracking.md says about it is what is in the files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from core.domain.sources import public_suffix, registrable_domain

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "core" / "domain" / "data"


def test_the_documented_versions_are_the_shipped_ones() -> None:
    versions = json.loads((DATA / "versions.json").read_text())
    docs = (ROOT / "docs" / "tracking.md").read_text()
    assert set(versions) == {
        "matomo-org/searchengine-and-social-list (CC0-1.0)",
        "Public Suffix List (MPL-2.0)",
        "JayBizzle/Crawler-Detect (MIT)",
    }
    for dataset, version in versions.items():
        commit = re.match(r"[0-9a-f]{40}", version)
        assert commit, f"{dataset}: record the upstream commit the data was taken at"
        assert f"commit {commit.group()[:7]}" in docs, f"docs/tracking.md does not name {dataset}'s version"


def test_the_public_suffix_list_ships_unmodified_with_its_licence() -> None:
    text = (DATA / "public_suffix_list.dat").read_text()
    assert text.startswith("// This Source Code Form is subject to the terms of the Mozilla Public\n")
    assert "===BEGIN PRIVATE DOMAINS===" in text
    assert (public_suffix("www.bbc.co.uk"), registrable_domain("www.bbc.co.uk")) == ("co.uk", "bbc.co.uk")
    assert registrable_domain("google.blogspot.com") == "google.blogspot.com"  # a private-section suffix


def test_the_crawler_patterns_all_compile() -> None:
    crawlers = json.loads((DATA / "crawlers.json").read_text())
    assert len(crawlers["crawlers"]) > 1000
    for pattern in crawlers["crawlers"] + crawlers["exclusions"]:
        re.compile(pattern)


def test_the_licence_notices_travel_with_the_data() -> None:
    notices = (DATA / "THIRD_PARTY_NOTICES.txt").read_text()
    assert "Permission is hereby granted, free of charge" in notices  # Crawler-Detect's MIT notice
    assert "CC0 1.0" in notices
    assert "Mozilla Public License 2.0" in notices
