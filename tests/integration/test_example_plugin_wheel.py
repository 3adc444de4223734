"""The example third-party plugin, built as a wheel, installed into a fresh virtual environment next to
CourseSignal's own wheel (never the source tree), passes its own test suite there, with nothing but
`coursesignal`, `coursesignal.testing` and itself to import.

To stay fast and offline, the fresh environment borrows the third-party dependencies (Flask, SQLAlchemy,
pytest, ...) already installed in this one, through a folder of links to them that leaves out everything
of CourseSignal and of the example plugin; both of those come only from the wheels built here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import record_figure

REPOSITORY = Path(__file__).parents[2]
EXAMPLE = REPOSITORY / "tests" / "example_plugin"
# What the wheels bring: nothing of these may leak in from the environment running this test.
OURS = ("coursesignal", "core", "adapters", "plugins", "__editable__", "_coursesignal", "tests")


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def _borrowed_dependencies(folder: Path) -> Path:
    """Links to every installed distribution of this environment except CourseSignal's and the example's."""
    folder.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        lowered = entry.name.lower().replace("-", "_")
        if lowered.startswith(OURS) or "example_shop" in lowered or entry.name == "__pycache__":
            continue
        (folder / entry.name).symlink_to(entry)
    return folder


def _sources(tmp_path: Path) -> tuple[Path, Path]:
    """Clean copies of what each wheel is built from: setuptools leaves a build/ folder behind in the tree it
    builds, and a stale file there (a renamed migration) would end up in the next wheel."""
    app = tmp_path / "source" / "coursesignal"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", "node_modules")
    app.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPOSITORY / name, app / name)
    for package in ("coursesignal", "core", "adapters", "plugins"):
        shutil.copytree(REPOSITORY / package, app / package, ignore=skip)
    example = tmp_path / "source" / "example_plugin"
    shutil.copytree(EXAMPLE, example, ignore=skip)
    return app, example


def test_the_example_plugin_wheel_passes_its_own_tests_next_to_the_app_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    for project in _sources(tmp_path):
        _run(
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", wheels, project
        )
    built = sorted(path.name for path in wheels.glob("*.whl"))
    assert [name.split("-")[0] for name in built] == ["coursesignal", "coursesignal_example_shop"]
    record_figure("coursesignal wheel", f"{(wheels / built[0]).stat().st_size / 1024:.0f} KiB")

    venv = tmp_path / "fresh"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    fresh_site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    borrowed = _borrowed_dependencies(tmp_path / "borrowed")
    (fresh_site / "borrowed_dependencies.pth").write_text(f"{borrowed}\n")
    _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-index", "--no-deps",
        *sorted(wheels.glob("*.whl")),
    )  # fmt: skip

    # Only the example's own folder is copied: no CourseSignal source anywhere on the fresh path.
    suite = tmp_path / "suite" / "example_plugin"
    shutil.copytree(EXAMPLE, suite, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("COURSESIGNAL_", "PYTHON"))}
    where = _run(
        python, "-c", "import coursesignal, coursesignal.testing, coursesignal_example_shop as e; "
        "print(coursesignal.__file__); print(e.__file__)",
        cwd=tmp_path, env=environment,
    )  # fmt: skip
    assert all(line.startswith(str(fresh_site)) for line in where.split()), where
    output = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", ".", cwd=suite, env=environment)
    summary = output.strip().splitlines()[-1]
    assert " passed" in summary
    assert "failed" not in summary
    assert "skipped" not in summary
    record_figure("example plugin suite in a fresh venv", summary)


@pytest.fixture(autouse=True)
def _pip_is_new_enough() -> None:
    """`pip --python` (pip 22.3+) installs into the fresh environment without a pip of its own."""
    version = _run(sys.executable, "-m", "pip", "--version").split()[1]
    assert tuple(int(part) for part in version.split(".")[:2]) >= (22, 3), version
