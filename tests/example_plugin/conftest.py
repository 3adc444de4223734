"""The example plugin's tests need it installed by its entry point, as `make install` does."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from tests.conftest import require


def example_plugin_installed() -> bool:
    return bool(entry_points(group="coursesignal.platforms", name="example_shop"))


@pytest.fixture(autouse=True)
def _needs_the_example_plugin() -> None:
    require(example_plugin_installed(), "the example plugin is not installed: run `make install`")
