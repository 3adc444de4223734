"""Every hook is documented in docs/plugins.md with its exact signature, and every hook has a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from adapters.platforms import hookspecs

PLUGIN_GUIDE = Path(__file__).parents[2] / "docs" / "plugins.md"
TESTS = Path(__file__).parents[1]


def _hooks() -> list[str]:
    return [name for name, value in vars(hookspecs).items() if hasattr(value, "coursesignal_spec")]


def _signature(name: str) -> str:
    """The signature as written in the source (annotations are strings under `from __future__ import
    annotations`, so they are shown unquoted, as a plugin author types them)."""
    signature = inspect.signature(getattr(hookspecs, name))
    parameters = ", ".join(
        p.name if p.annotation is inspect.Parameter.empty else f"{p.name}: {p.annotation}"
        for p in signature.parameters.values()
    )
    return f"def {name}({parameters}) -> {signature.return_annotation}:"


def test_there_are_hooks() -> None:
    assert _hooks() == ["coursesignal_platforms"]


@pytest.mark.parametrize("hook", _hooks())
def test_each_hook_has_a_section_with_its_exact_signature(hook: str) -> None:
    guide = PLUGIN_GUIDE.read_text()
    assert re.search(rf"^### {hook}$", guide, re.MULTILINE), f"docs/plugins.md has no '### {hook}' section"
    section = guide.split(f"### {hook}", 1)[1].split("\n### ", 1)[0]
    assert _signature(hook) in section


@pytest.mark.parametrize("hook", _hooks())
def test_each_hook_is_exercised_by_a_test(hook: str) -> None:
    users = [path for path in TESTS.rglob("test_*.py") if path.name != Path(__file__).name and hook in path.read_text()]
    assert users, f"no test mentions the hook {hook}"
