from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import pluggy

from core.ports.platforms import PlatformAdapter


class PluginError(Exception):
    """A plugin broke the contract: the message names the plugin and what it returned."""


class PlatformRegistry:
    """The one place that calls the platform hooks; hands out only real PlatformAdapters, by name."""

    def __init__(self, manager: pluggy.PluginManager, api_urls: Mapping[str, str] | None = None) -> None:
        self._manager = manager
        self._hook_arguments = {"api_urls": dict(api_urls or {})}
        self._platforms: dict[str, PlatformAdapter] | None = None
        self._lock = threading.Lock()

    def _collect(self) -> dict[str, PlatformAdapter]:
        platforms: dict[str, PlatformAdapter] = {}
        hook = self._manager.hook.coursesignal_platforms
        for implementation in hook.get_hookimpls():
            plugin = implementation.plugin_name
            # Called one by one (not through pm.hook) to name the plugin at fault; like pluggy, pass only
            # the arguments an implementation asks for.
            arguments = {name: self._hook_arguments[name] for name in implementation.argnames}
            for adapter in implementation.function(**arguments) or ():
                if not isinstance(adapter, PlatformAdapter):
                    raise PluginError(f"plugin {plugin!r} returned {adapter!r}, which is not a PlatformAdapter")
                if adapter.name in platforms:
                    raise PluginError(f"plugin {plugin!r} registers platform {adapter.name!r} a second time")
                platforms[adapter.name] = adapter
        return platforms

    def _loaded(self) -> dict[str, PlatformAdapter]:
        with self._lock:
            if self._platforms is None:
                self._platforms = self._collect()
            return self._platforms

    def get(self, name: str) -> PlatformAdapter:
        return self._loaded()[name]

    def all(self) -> Sequence[PlatformAdapter]:
        return sorted(self._loaded().values(), key=lambda p: p.display_name.lower())
