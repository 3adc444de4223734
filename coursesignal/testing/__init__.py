"""CourseSignal's test kit for plugin authors, shipped in the package (`pip install coursesignal[testing]`).

- `PlatformContract` and `PlatformHarness`: the contract every platform passes. Subclass the contract as a
  `Test...` class naming your harness (how to start your platform's fake, its credentials, how to make a
  sale and how your platform delivers a webhook about it), and pytest runs every check against your plugin,
  loaded through its entry point as the application loads it.
- `live_app`: the real application with every installed plugin, on a free local port, driven over HTTP
  (`sign_up`, `Creator.connect`, `deliver`, `wait_for_jobs`, `Creator.purchases`). The pytest plugin this
  package registers (entry point `pytest11`, `coursesignal`) offers it as the `coursesignal_live_app`
  fixture.

docs/plugins.md shows the whole loop with the Example Shop plugin. Import only from this module (and from
`coursesignal`): the submodules are how it is built, not a contract.
"""

from coursesignal.testing.contract import PRICE, WINDOW, PlatformContract, PlatformHarness, load_platform
from coursesignal.testing.live import Connection, Creator, LiveApp, LiveAppError, live_app

__all__ = [
    "PRICE",
    "WINDOW",
    "Connection",
    "Creator",
    "LiveApp",
    "LiveAppError",
    "PlatformContract",
    "PlatformHarness",
    "live_app",
    "load_platform",
]
