"""Known automated user agents. Their page views are dropped, never stored."""

from __future__ import annotations

import re

# Substrings (lower case) of user agents that are automated: search and social crawlers, link
# previewers, uptime monitors, HTTP libraries and headless browsers.
_BOT_MARKERS = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "facebookexternalhit",
    "facebookcatalog",
    "embedly",
    "preview",
    "headlesschrome",
    "phantomjs",
    "lighthouse",
    "pingdom",
    "uptime",
    "monitor",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "httpx",
    "aiohttp",
    "go-http-client",
    "java/",
    "okhttp",
    "axios",
    "node-fetch",
    "scrapy",
    "feedfetcher",
    "mediapartners",
    "adsbot",
    "bingpreview",
)
_BOT = re.compile("|".join(re.escape(m) for m in _BOT_MARKERS))


def is_bot(user_agent: str | None) -> bool:
    """A missing user agent counts as automated: every browser sends one."""
    if not user_agent or not user_agent.strip():
        return True
    return bool(_BOT.search(user_agent.lower()))
