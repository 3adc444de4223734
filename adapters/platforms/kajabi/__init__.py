"""Kajabi, built in, registered through the same `coursesignal_platforms` hook as any plugin."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.platforms.hookspecs import hookimpl
from adapters.platforms.kajabi.platform import DEFAULT_API_URL, KajabiPlatform
from core.ports.platforms import PlatformAdapter


@hookimpl
def coursesignal_platforms(api_urls: Mapping[str, str]) -> list[PlatformAdapter]:
    return [KajabiPlatform(api_urls.get(KajabiPlatform.name, DEFAULT_API_URL))]
