"""Refreshes the maintained data the source classifier and the bot filter read (core/domain/data/).

Three upstream datasets, each used under its own licence (see docs/tracking.md):
- Matomo's searchengine-and-social-list (CC0 1.0): search engines, social networks and AI assistants by host;
- the Public Suffix List (MPL-2.0): copied verbatim, licence header included;
- JayBizzle's Crawler-Detect (MIT): crawler patterns and the exclusions that keep real browsers and phones.

Core reads only the generated files (standard library, no network at run time); this script is the only
place that talks to the upstream projects. It prints what it wrote and the version of each dataset.

Usage:
  python -m bench.update_source_data                    # download the newest version of each dataset
  python -m bench.update_source_data --matomo DIR@VERSION --psl FILE@VERSION --crawler-detect DIR@VERSION
                                                        # regenerate from local copies (offline), each with
                                                        # the upstream commit or date it was taken at
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parents[1] / "core" / "domain" / "data"

MATOMO_REPO = "matomo-org/searchengine-and-social-list"
MATOMO_FILES = {"search": "SearchEngines.yml", "social": "Socials.yml", "ai": "AIAssistants.yml"}
PSL_URL = "https://publicsuffix.org/list/public_suffix_list.dat"
CRAWLER_DETECT_REPO = "JayBizzle/Crawler-Detect"
CRAWLER_DETECT_FILES = ("Crawlers.txt", "Exclusions.txt")

# Matomo lists a few hosts with a path (x.com/i/grok) or as an Android package; a referrer reaches us as a
# host, and Android apps are classified by our own table in core/domain/sources.py.
_PLAIN_HOST = re.compile(r"^(\{\}\.)?[a-z0-9][a-z0-9.-]*(\.\{\})?$")


def _download(url: str, target: Path) -> None:
    if not url.startswith("https://"):
        raise ValueError(f"refusing a non-https download: {url}")
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (https only, checked above)
        target.write_bytes(response.read())


def _newest_commit(repo: str) -> tuple[str, str]:
    """(sha, date) of the repository's newest commit on its default branch: the files are then downloaded at
    that commit, so the recorded version is exactly what was copied."""
    with urllib.request.urlopen(f"https://api.github.com/repos/{repo}/commits/HEAD", timeout=60) as response:
        commit = json.load(response)
    return commit["sha"], commit["commit"]["committer"]["date"][:10]


def _psl_version(text: str) -> str:
    """publicsuffix.org writes the list's commit and date into the header of the file it serves."""
    commit = re.search(r"^// COMMIT: ([0-9a-f]{40})", text, re.MULTILINE)
    version = re.search(r"^// VERSION: (\S+)", text, re.MULTILINE)
    if not commit:
        raise ValueError("the downloaded Public Suffix List names no commit in its header")
    return f"{commit.group(1)} ({version.group(1)[:10] if version else 'undated'})"


def _hosts(urls: list[Any]) -> list[str]:
    return sorted({u.strip().lower() for u in urls if isinstance(u, str) and _PLAIN_HOST.match(u.strip().lower())})


def referrer_table(matomo: Path) -> dict[str, dict[str, list[str]]]:
    """{kind: {name: [host patterns]}} from Matomo's three YAML files; `{}` stands for a country code."""
    table: dict[str, dict[str, list[str]]] = {}
    for kind, filename in MATOMO_FILES.items():
        data = yaml.safe_load((matomo / filename).read_text(encoding="utf-8"))
        entries: dict[str, list[str]] = {}
        for name, definition in data.items():
            if kind == "search":
                urls = [u for config in definition for u in config.get("urls", [])]
            else:
                urls = list(definition)
            hosts = _hosts(urls)
            if hosts:
                entries[str(name)] = hosts
        table[kind] = dict(sorted(entries.items()))
    return table


def crawler_table(crawler_detect: Path) -> dict[str, list[str]]:
    table = {}
    for filename, key in zip(CRAWLER_DETECT_FILES, ("crawlers", "exclusions"), strict=True):
        lines = (crawler_detect / filename).read_text(encoding="utf-8").splitlines()
        patterns = [line for line in lines if line.strip()]
        for pattern in patterns:
            re.compile(pattern)  # Crawler-Detect writes PCRE; fail here, not in production, if one stops parsing
        table[key] = patterns
    return table


def write(matomo: Path, psl: Path, crawler_detect: Path, versions: dict[str, str]) -> None:
    DATA.mkdir(exist_ok=True)
    psl_text = psl.read_text(encoding="utf-8")
    if "===BEGIN ICANN DOMAINS===" not in psl_text:
        raise ValueError(f"{psl} does not look like the Public Suffix List")
    (DATA / "public_suffix_list.dat").write_text(psl_text, encoding="utf-8")
    referrers = referrer_table(matomo)
    (DATA / "referrers.json").write_text(json.dumps(referrers, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    crawlers = crawler_table(crawler_detect)
    (DATA / "crawlers.json").write_text(json.dumps(crawlers, indent=0) + "\n", encoding="utf-8")
    (DATA / "versions.json").write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"referrers.json: {sum(len(v) for v in referrers.values())} sources "
        + ", ".join(f"{kind}={len(v)}" for kind, v in referrers.items())
    )
    print(f"crawlers.json: {len(crawlers['crawlers'])} crawler patterns, {len(crawlers['exclusions'])} exclusions")
    print(f"public_suffix_list.dat: {psl_text.count(chr(10))} lines")
    for dataset, version in sorted(versions.items()):
        print(f"{dataset}: {version}")


def _local(argument: str | None) -> tuple[Path, str] | None:
    if argument is None:
        return None
    path, _, version = argument.rpartition("@")
    if not path or not version:
        raise SystemExit(f"give a local copy as PATH@VERSION (the upstream commit or date), not {argument!r}")
    return Path(path), version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matomo", help="DIR@VERSION: a copy of matomo-org/searchengine-and-social-list")
    parser.add_argument("--psl", help="FILE@VERSION: a copy of public_suffix_list.dat")
    parser.add_argument("--crawler-detect", help="DIR@VERSION: the raw/ folder of JayBizzle/Crawler-Detect")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        local = {name: _local(getattr(args, name)) for name in ("matomo", "psl", "crawler_detect")}
        if local["matomo"] is None:
            sha, day = _newest_commit(MATOMO_REPO)
            (work / "matomo").mkdir()
            for filename in MATOMO_FILES.values():
                raw = f"https://raw.githubusercontent.com/{MATOMO_REPO}/{sha}/{filename}"
                _download(raw, work / "matomo" / filename)
            local["matomo"] = (work / "matomo", f"{sha} ({day})")
        if local["psl"] is None:
            _download(PSL_URL, work / "public_suffix_list.dat")
            psl_text = (work / "public_suffix_list.dat").read_text(encoding="utf-8")
            local["psl"] = (work / "public_suffix_list.dat", _psl_version(psl_text))
        if local["crawler_detect"] is None:
            sha, day = _newest_commit(CRAWLER_DETECT_REPO)
            (work / "crawler-detect").mkdir()
            for filename in CRAWLER_DETECT_FILES:
                raw = f"https://raw.githubusercontent.com/{CRAWLER_DETECT_REPO}/{sha}/raw/{filename}"
                _download(raw, work / "crawler-detect" / filename)
            local["crawler_detect"] = (work / "crawler-detect", f"{sha} ({day})")
        (matomo, matomo_version), (psl, psl_version), (crawlers, crawlers_version) = (
            local["matomo"],
            local["psl"],
            local["crawler_detect"],
        )
        versions = {
            "matomo-org/searchengine-and-social-list (CC0-1.0)": matomo_version,
            "Public Suffix List (MPL-2.0)": psl_version,
            "JayBizzle/Crawler-Detect (MIT)": crawlers_version,
        }
        write(matomo, psl, crawlers, versions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
