"""The hooks a CourseSignal plugin may implement. docs/plugins.md documents each one; a test keeps the
two in step."""

from __future__ import annotations

from collections.abc import Mapping

import pluggy

from core.ports.platforms import PlatformAdapter

PROJECT_NAME = "coursesignal"
ENTRY_POINT_GROUP = "coursesignal.platforms"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def coursesignal_platforms(api_urls: Mapping[str, str]) -> list[PlatformAdapter]:  # type: ignore[empty-body]
    """Return the platforms this plugin provides, as PlatformAdapter instances.

    `api_urls` maps a platform name to a base URL that replaces the platform's real API host (set by
    the operator as COURSESIGNAL_<NAME>_API_URL, for a local fake or a proxy); implementations may leave
    the argument out of their signature when they have no API to point elsewhere.
    """
