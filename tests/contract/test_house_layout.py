"""What the README's layout section and docs/plugins.md say about where things live stays true: no source
module passes 500 lines, and the table of where CourseSignal calls a plugin names the file that calls each
PlatformAdapter method (and every method the connections service calls is in it)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from coursesignal import PlatformAdapter

ROOT = Path(__file__).parents[2]
SOURCE_PACKAGES = ("core", "adapters", "coursesignal", "plugins", "bench")
MOST_LINES = 500
CONNECTIONS = ROOT / "core" / "services" / "connections"


def test_no_source_module_outside_migrations_and_tests_passes_500_lines() -> None:
    modules = [
        path
        for package in SOURCE_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and ".venv" not in path.parts
    ]
    assert len(modules) > 100
    too_long = {str(p.relative_to(ROOT)): n for p in modules if (n := len(p.read_text().splitlines())) > MOST_LINES}
    assert too_long == {}


def _called_methods(path: Path) -> set[str]:
    """The PlatformAdapter methods a module calls on anything (`adapter.fetch_purchases(...)`)."""
    methods = {name for name, value in vars(PlatformAdapter).items() if callable(value) and not name.startswith("_")}
    tree = ast.parse(path.read_text())
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods
    }


def test_the_plugin_guide_names_the_file_that_calls_each_platform_method() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    section = guide.split("### Where CourseSignal calls your plugin", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, set[str]] = {}
    for file, calls in re.findall(r"^\| `(\w+\.py)` \| (.+) \|$", section, re.MULTILINE):
        documented[file] = set(re.findall(r"`(\w+)`", calls))
    actual = {path.name: _called_methods(path) for path in sorted(CONNECTIONS.glob("*.py"))}
    assert documented == {name: methods for name, methods in actual.items() if methods}
