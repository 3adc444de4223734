"""Teachable: purchases and refunds from a Teachable school, through its Admin API and webhooks.

A plugin like any third party's: it imports only `coursesignal` and registers itself under the
`coursesignal.platforms` entry point (pyproject.toml). Creators' guide: docs/platforms/teachable.md.
"""

from coursesignal import PlatformAdapter, hookimpl

from .platform import TeachablePlatform

__all__ = ["TeachablePlatform", "coursesignal_platforms"]


@hookimpl
def coursesignal_platforms() -> list[PlatformAdapter]:
    return [TeachablePlatform()]
