"""The pytest plugin CourseSignal registers (entry point group `pytest11`, name `coursesignal`): fixtures a
plugin's tests use without importing anything but `coursesignal.testing`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path

import pytest

from coursesignal.testing.live import LiveApp, live_app


@pytest.fixture
def coursesignal_live_app(tmp_path: Path) -> Iterator[Callable[..., LiveApp]]:
    """Start the real application with every installed plugin: `coursesignal_live_app(api_urls={...})`
    returns a `LiveApp` served until the test ends (call it once per test)."""
    with ExitStack() as stack:

        def start(api_urls: Mapping[str, str] | None = None) -> LiveApp:
            return stack.enter_context(live_app(tmp_path, api_urls=api_urls))

        yield start
