"""The hooks a CourseSignal plugin may implement. docs/plugins.md documents each one; a test keeps the
two in step."""

from __future__ import annotations

import pluggy

from core.ports.platforms import PlatformAdapter

PROJECT_NAME = "coursesignal"
ENTRY_POINT_GROUP = "coursesignal.platforms"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def coursesignal_platforms() -> list[PlatformAdapter]:  # type: ignore[empty-body]
    """Return the platforms this plugin provides, as PlatformAdapter instances."""
