from __future__ import annotations

from importlib.metadata import entry_points
from types import ModuleType

import pluggy

from adapters.platforms import hookspecs
from adapters.platforms.registry import PluginError


def _register(manager: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as error:
        # pluggy checks each hook implementation's arguments against the hookspec here.
        raise PluginError(f"plugin {name!r} does not match the hooks: {' '.join(str(error).split())}") from None


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    """Every installed plugin, one by one, so a failure names the plugin (pluggy's own loader would let an
    ImportError through with no plugin named)."""
    for entry_point in entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        if manager.is_blocked(entry_point.name):
            continue
        distribution = entry_point.dist.name if entry_point.dist else "?"
        if manager.has_plugin(entry_point.name):
            raise PluginError(
                f"plugin {entry_point.name!r} (from {distribution}) uses an entry-point name another plugin already has"
            )
        try:
            plugin = entry_point.load()
        except Exception as error:
            detail = " ".join(f"{type(error).__name__}: {error}".split())[:300]
            raise PluginError(
                f"plugin {entry_point.name!r} (from {distribution}) cannot be imported: {detail}"
            ) from None
        _register(manager, plugin, entry_point.name)


def build_plugin_manager(
    builtins: tuple[ModuleType, ...] = (), *, load_entry_points: bool = True
) -> pluggy.PluginManager:
    """A plugin manager with the built-in platforms and every installed plugin. Built when the
    application starts, never at import time; PluginError names a plugin that cannot be loaded."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for module in builtins:
        _register(manager, module, module.__name__)
    if load_entry_points:
        _load_entry_points(manager)
    # What pluggy's check_pending checks, with the plugin named: a hook no hookspec knows (a misspelt name).
    for hook_name, caller in vars(manager.hook).items():
        if hook_name.startswith("_") or caller.has_spec():
            continue
        for implementation in caller.get_hookimpls():
            if not implementation.optionalhook:
                raise PluginError(
                    f"plugin {implementation.plugin_name!r} implements {hook_name!r}, which is not a CourseSignal hook"
                )
    return manager
