"""A stateful, fault-injecting fake of the Cal.com API v2 (see docs/contracts.md §1).

    from fake_calcom import FakeConfig, FakeServer
    async with FakeServer(FakeConfig(seed=1)) as fake:
        ...  # point a client at fake.url; drive it through fake_calcom.client.FakeControl

Importing the package is cheap: the aiohttp application is only built when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["FakeConfig", "FakeServer", "ThreadedFakeServer", "create_app"]

if TYPE_CHECKING:
    from fake_calcom.server import FakeServer, ThreadedFakeServer
    from fake_calcom.wire.app import create_app
    from fake_calcom.wire.state import FakeConfig


def __getattr__(name: str) -> Any:
    # Lazy so that `import fake_calcom` (e.g. by the auto-loaded pytest plugin) stays free.
    if name in ("FakeServer", "ThreadedFakeServer"):
        from fake_calcom import server

        return getattr(server, name)
    if name == "create_app":
        from fake_calcom.wire.app import create_app

        return create_app
    if name == "FakeConfig":
        from fake_calcom.wire.state import FakeConfig

        return FakeConfig
    raise AttributeError(f"module 'fake_calcom' has no attribute {name!r}")
