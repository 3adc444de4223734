from __future__ import annotations

from types import ModuleType

import pluggy

from adapters.platforms import hookspecs


def build_plugin_manager(
    builtins: tuple[ModuleType, ...] = (), *, load_entry_points: bool = True
) -> pluggy.PluginManager:
    """A plugin manager with the built-in platforms and every installed plugin. Built when the
    application starts, never at import time."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for module in builtins:
        manager.register(module)
    if load_entry_points:
        manager.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
    return manager
