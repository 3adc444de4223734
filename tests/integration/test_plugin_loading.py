"""A broken platform plugin, installed next to CourseSignal, stops `coursesignal run`, `coursesignal worker`
and the app factory at start, with one line naming the plugin and what is wrong with it.

Each broken plugin is installed the way pip leaves a package: its module and a `.dist-info` folder with its
`coursesignal.platforms` entry point, in a folder on the interpreter's path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from adapters.platforms.plugin_manager import build_plugin_manager
from adapters.platforms.registry import PlatformRegistry, PluginError
from coursesignal.container import build_app, create_container
from tests.conftest import app_settings

BIN = Path(sys.executable).parent

BROKEN = {
    "an import error": (
        "import coursesignal_missing_dependency\n",
        "plugin 'broken_shop' (from broken-shop) cannot be imported: ModuleNotFoundError: No module named "
        "'coursesignal_missing_dependency'",
    ),
    "a hook returning garbage": (
        "from coursesignal import hookimpl\n\n@hookimpl\ndef coursesignal_platforms():\n"
        "    return ['not a platform']\n",
        "plugin 'broken_shop' returned 'not a platform', which is not a PlatformAdapter",
    ),
    "a clashing name": (
        textwrap.dedent(
            """
            from coursesignal import PlatformAdapter, hookimpl

            class Twin(PlatformAdapter):
                name = "teachable"
                display_name = "Not Teachable"
                def read_webhook(self, delivery, credentials): ...
                def fetch_purchases(self, credentials, since, progress): ...

            @hookimpl
            def coursesignal_platforms():
                return [Twin()]
            """
        ),
        "registers platform 'teachable' a second time",
    ),
    "a hook with an argument no hookspec has": (
        "from coursesignal import hookimpl\n\n@hookimpl\ndef coursesignal_platforms(api_urls, settings):\n"
        "    return []\n",
        "plugin 'broken_shop' does not match the hooks",
    ),
    "a misspelt hook": (
        "from coursesignal import hookimpl\n\n@hookimpl\ndef coursesignal_platfroms():\n    return []\n",
        "plugin 'broken_shop' implements 'coursesignal_platfroms', which is not a CourseSignal hook",
    ),
    "a hook that raises": (
        "from coursesignal import hookimpl\n\n@hookimpl\ndef coursesignal_platforms():\n    raise OSError('disk')\n",
        "plugin 'broken_shop' failed in coursesignal_platforms: OSError: disk",
    ),
}


def _install(folder: Path, source: str) -> Path:
    """`broken-shop` installed into `folder` with its entry point, as pip would leave it."""
    (folder / "broken_shop_plugin").mkdir(parents=True)
    (folder / "broken_shop_plugin" / "__init__.py").write_text(source)
    info = folder / "broken_shop-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-shop\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[coursesignal.platforms]\nbroken_shop = broken_shop_plugin\n")
    return folder


def _environment(site: Path, tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COURSESIGNAL_")}
    environment.update(
        PYTHONPATH=str(site),
        COURSESIGNAL_DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}",
        COURSESIGNAL_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    return environment


@pytest.mark.parametrize("case", list(BROKEN))
def test_the_app_factory_and_the_registry_refuse_a_broken_plugin_naming_it(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, message = BROKEN[case]
    monkeypatch.syspath_prepend(str(_install(tmp_path / "site", source)))
    with pytest.raises(PluginError) as refused:
        PlatformRegistry(build_plugin_manager()).load()
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)
    sys.modules.pop("broken_shop_plugin", None)

    # The app factory gunicorn serves refuses the same way, before any request could meet the plugin.
    settings = app_settings(f"sqlite:///{tmp_path / 'app.db'}", tmp_path)
    container = create_container(settings)
    try:
        with pytest.raises(PluginError, match="broken_shop"):
            build_app(settings, container)
    finally:
        container.unwire()
        container.gateways.engine().dispose()
    sys.modules.pop("broken_shop_plugin", None)


@pytest.mark.parametrize("case", ["an import error", "a clashing name"])
def test_coursesignal_run_refuses_to_start_with_one_line_naming_the_plugin(case: str, tmp_path: Path) -> None:
    source, message = BROKEN[case]
    site = _install(tmp_path / "site", source)
    started = subprocess.run(
        [BIN / "coursesignal", "run", "--port", "9"],
        env=_environment(site, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 1
    (line,) = [line for line in started.stderr.splitlines() if line.startswith("Error:")]
    assert line.startswith("Error: CourseSignal cannot start: plugin ")
    assert "'broken_shop'" in line  # a clash names both plugins, in the order they were found
    assert message in line
    assert "CourseSignal on http" not in started.stdout  # never got as far as serving


def test_coursesignal_worker_refuses_to_start_naming_the_plugin(tmp_path: Path) -> None:
    source, message = BROKEN["a hook returning garbage"]
    site = _install(tmp_path / "site", source)
    environment = _environment(site, tmp_path)
    # Refused before Redis is ever reached (nothing listens on port 9).
    environment["COURSESIGNAL_REDIS_URL"] = "redis://127.0.0.1:9/0"
    started = subprocess.run(
        [BIN / "coursesignal", "worker"], env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert started.returncode == 1
    assert f"Error: CourseSignal cannot start: {message}" in started.stderr


def test_a_healthy_set_of_plugins_starts(tmp_path: Path) -> None:
    """The same check passes with only what CourseSignal ships (and the example plugin, when installed)."""
    registry = PlatformRegistry(build_plugin_manager()).load()
    assert {"csv", "teachable", "stripe"} <= {platform.name for platform in registry.all()}
