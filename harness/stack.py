"""The embedded stack: the fake Cal.com and the booking service in this process.

Both run as aiohttp apps on one background event-loop thread, on free loopback ports, talking to
each other over real HTTP. They share one `VirtualClock`, so a scenario can freeze or advance
time for the service's policy waits (backoff, rate-limit waits, circuit timing) and the fake's
createdAt stamps and rate-limit windows together, instead of sleeping.

The harness is the only place allowed to import both packages (docs/contracts.md).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from booking_service import Defenses, Settings, create_app
from fake_calcom import FakeConfig, FakeServer
from fake_calcom.backend.clock import VirtualClock
from fake_calcom.client import FakeControl
from harness.clients.service import SyncServiceClient
from harness.db import DatabaseChoice, choose_database

T = TypeVar("T")

WEBHOOK_SECRET = "whsec_calharness_embedded"
DEFAULT_CALCOM_KEY = "cal_live_calharness_anna"

Failpoint = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class StackOptions:
    """What an embedded stack is started with. Defaults suit scenarios: rate limiting off (tests
    that need it switch it on through the control plane), short upstream timeouts so ambiguous
    outcomes resolve quickly, all defenses on."""

    database_url: str | None = None
    defenses_off: tuple[str, ...] = ()
    seed: int = 0
    rate_limit: bool = False
    journal: bool = True
    calcom_timeout_s: float = 2.0
    service_settings: dict[str, Any] = field(default_factory=dict)
    label: str = "stack"
    allow_docker: bool = True


def defenses_with_off(names: Iterable[str]) -> Defenses:
    """A `Defenses` with every defense on except those named (unknown names are an error)."""
    return Defenses.with_off(list(names))


class EmbeddedStack:
    """Start with `start()` (or use as a context manager); stop with `stop()`."""

    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, daemon=True,
                                        name=f"calharness-{self.options.label}")
        self.database: DatabaseChoice | None = None
        self.clock = VirtualClock()
        self.failpoints: dict[str, Failpoint] = {}
        self.fake: FakeServer | None = None
        self.service_app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self.fake_url = ""
        self.service_url = ""
        self.control: FakeControl | None = None
        self.service: SyncServiceClient | None = None

    # lifecycle ----------------------------------------------------------------------------------

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 120) -> T:
        """Run a coroutine on the stack's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> EmbeddedStack:
        self.database = choose_database(self.options.database_url, label=self.options.label,
                                        allow_docker=self.options.allow_docker)
        self._thread.start()
        try:
            self.run(self._astart())
        except BaseException:
            self.stop()
            raise
        self.control = FakeControl(self.fake_url)
        self.service = SyncServiceClient(self.service_url)
        self.subscribe_webhooks()
        return self

    async def _astart(self) -> None:
        opts = self.options
        self.fake = FakeServer(FakeConfig(seed=opts.seed, rate_limit=opts.rate_limit,
                                          journal=opts.journal, clock=self.clock))
        await self.fake.__aenter__()
        self.fake_url = self.fake.url
        settings = Settings(database_url=self.database.url if self.database else "",
                            calcom_base_url=self.fake_url, calcom_api_key=DEFAULT_CALCOM_KEY,
                            webhook_secret=WEBHOOK_SECRET,
                            defenses=defenses_with_off(opts.defenses_off),
                            calcom_timeout_s=opts.calcom_timeout_s, clock=self.clock,
                            failpoints=self.failpoints, **opts.service_settings)
        self.service_app = create_app(settings)
        self._runner = web.AppRunner(self.service_app, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.service_url = f"http://127.0.0.1:{port}"

    async def _astop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.fake is not None:
            await self.fake.__aexit__(None, None, None)
            self.fake = None

    def stop(self) -> None:
        if self.service is not None:
            self.service.close()
            self.service = None
        if self.control is not None and hasattr(self.control, "close"):
            self.control.close()
        if self._thread.is_alive():
            try:
                self.run(self._astop(), timeout=30)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(timeout=10)
        if not self.loop.is_closed() and not self.loop.is_running():
            self.loop.close()
        if self.database is not None:
            self.database.close()
            self.database = None

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # between scenarios --------------------------------------------------------------------------

    def subscribe_webhooks(self) -> None:
        assert self.control is not None
        self.control.subscribe(f"{self.service_url}/api/webhooks/calcom", secret=WEBHOOK_SECRET)

    def reset(self, defenses_off: Iterable[str] | None = None) -> None:
        """Back to a clean slate: the fake as it started (seed data, no bookings, no faults, rate
        limiting and journal as configured), the shared clock real again, service data wiped
        (tenants kept), failpoints cleared, and the defenses given (default: the stack's own)."""
        off = self.options.defenses_off if defenses_off is None else tuple(defenses_off)
        self.failpoints.clear()
        self.run(self._areset(tuple(off)))
        self.subscribe_webhooks()

    async def _areset(self, defenses_off: tuple[str, ...]) -> None:
        assert self.fake is not None
        self.fake.state.restore()
        self.clock.reset()
        await self._reset_service(defenses_off)

    async def _reset_service(self, defenses_off: tuple[str, ...]) -> None:
        from harness.embedded_service import reset_service

        assert self.service_app is not None
        await reset_service(self.service_app, defenses_with_off(defenses_off))
