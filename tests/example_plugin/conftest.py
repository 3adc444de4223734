"""Example Shop's own tests. They import only `coursesignal`, `coursesignal.testing` and the plugin itself,
so they run the same from CourseSignal's repository (where `make install` installs the plugin by its entry
point) and from a fresh environment holding only the two wheels (tests/integration/test_example_plugin_wheel.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.util import find_spec

import pytest

INSTALLED = find_spec("coursesignal_example_shop") is not None

if not INSTALLED:
    # Installed by `make install`; `make run` removes it again. In CI its absence is a failure, not a skip.
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError("the example plugin is not installed: run `make install`")
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture
def shop() -> Iterator[object]:
    from coursesignal_example_shop.fake import FakeShop

    with FakeShop() as fake:
        yield fake
