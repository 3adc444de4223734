"""Teachable: purchases and refunds from a Teachable school, through its Admin API and webhooks.

A plugin like any third party's: it imports only `coursesignal` and registers itself under the
`coursesignal.platforms` entry point (pyproject.toml). Creators' guide: docs/platforms/teachable.md.
"""

from collections.abc import Mapping

from coursesignal import PlatformAdapter, hookimpl

from .client import DEFAULT_API_URL
from .platform import TeachablePlatform

__all__ = ["TeachablePlatform", "coursesignal_platforms"]


@hookimpl
def coursesignal_platforms(api_urls: Mapping[str, str]) -> list[PlatformAdapter]:
    return [TeachablePlatform(api_url=api_urls.get(TeachablePlatform.name) or DEFAULT_API_URL)]
