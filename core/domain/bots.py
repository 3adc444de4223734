"""Known automated user agents. Their page views are dropped, never stored.

The patterns are JayBizzle's Crawler-Detect list (MIT), generated into core/domain/data/crawlers.json by
bench/update_source_data.py: search and AI crawlers, link-preview fetchers (WhatsApp, Slack, Discord,
iMessage, Facebook, X), uptime monitors, HTTP libraries and headless browsers. Its exclusions are taken out
of a user agent before the patterns are tried, which is what keeps real phones whose names contain "bot"
(Cubot) and ordinary browser tokens from matching.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

# What Crawler-Detect leaves to others and we drop as well: page-speed tools that load the page as a browser.
_OUR_PATTERNS = ("Chrome-Lighthouse", "Google Page Speed", "PTST/")


@dataclass(frozen=True, slots=True)
class _Patterns:
    crawlers: re.Pattern[str]
    exclusions: re.Pattern[str]


@cache
def _patterns() -> _Patterns:
    data = json.loads(files("core.domain").joinpath("data", "crawlers.json").read_text(encoding="utf-8"))
    crawlers = [*data["crawlers"], *(re.escape(p) for p in _OUR_PATTERNS)]
    return _Patterns(
        crawlers=re.compile("|".join(f"(?:{p})" for p in crawlers), re.IGNORECASE),
        exclusions=re.compile("|".join(f"(?:{p})" for p in data["exclusions"]), re.IGNORECASE),
    )


def preload() -> None:
    """Compile the patterns now: a second or so on a busy machine, better spent when the app starts than in
    the first visitor's request."""
    _patterns()


# The same few thousand user agents arrive again and again: each is matched once.
@lru_cache(maxsize=8192)
def _is_automated(user_agent: str) -> bool:
    patterns = _patterns()
    remainder = patterns.exclusions.sub("", user_agent).strip()
    return bool(patterns.crawlers.search(remainder))


def is_bot(user_agent: str | None) -> bool:
    """A missing user agent counts as automated: every browser sends one."""
    if not user_agent or not user_agent.strip():
        return True
    return _is_automated(user_agent.strip()[:1000])
