"""Running the fake: `FakeServer` (async context manager) and `ThreadedFakeServer` (own loop)."""

from __future__ import annotations

import asyncio
import gc
from types import TracebackType
from typing import Any

from aiohttp import web

from fake_calcom.backend.clock import VirtualClock
from fake_calcom.backend.store import Backend
from fake_calcom.loop_thread import LoopThread
from fake_calcom.wire.app import create_app
from fake_calcom.wire.common import STATE_KEY
from fake_calcom.wire.state import FakeConfig, FakeState


def install_gc_freezer(loop: asyncio.AbstractEventLoop) -> None:
    """For a process that runs only the fake (`python -m fake_calcom`): keep GC pauses short.

    Bookings accumulate and live until a reset, so without help every full collection walks a
    growing heap (hundreds of ms after tens of thousands of creates: the p99 of a load run).
    Whatever survives a generation-1 collection is long-lived here (bookings and their indexes),
    so it is moved to the permanent generation (`gc.freeze`) instead of being re-walked by every
    later collection. Reference counting still frees everything the fake drops (its records hold
    no cycles); only cyclic garbage that survived two collections would stay.
    """

    def after_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info.get("generation", 0) >= 1 and not loop.is_closed():
            loop.call_soon_threadsafe(gc.freeze)

    gc.freeze()  # modules and seed data: never garbage
    gc.callbacks.append(after_collection)


class FakeServer:
    """`async with FakeServer(FakeConfig(...)) as fake:` → `fake.url`, `fake.backend`, `fake.clock`."""

    def __init__(self, config: FakeConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or FakeConfig()
        self.host = host
        self.port = port
        self.app = create_app(self.config)
        self._runner: web.AppRunner | None = None

    @property
    def state(self) -> FakeState:
        return self.app[STATE_KEY]

    @property
    def backend(self) -> Backend:
        return self.state.backend

    @property
    def clock(self) -> VirtualClock:
        return self.state.clock

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FakeServer:
        # handler_cancellation stays off: like Node, the fake finishes a request whose client
        # went away, which is what makes a client-side timeout an *ambiguous* outcome.
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=2048, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await self.stop()
            raise
        server = site._server  # the bound port when port=0
        if isinstance(server, asyncio.Server) and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class ThreadedFakeServer:
    """The same fake on its own event loop in a daemon thread (for sync code and tests)."""

    def __init__(self, config: FakeConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self._config = config
        self._host = host
        self._port = port
        self._loop: LoopThread | None = None
        self._server: FakeServer | None = None

    def start(self) -> ThreadedFakeServer:
        self._loop = LoopThread(name="fake-calcom")
        try:
            self._server = self._loop.run(FakeServer(self._config, self._host, self._port).start())
        except BaseException as error:
            self._loop.close()
            self._loop = None
            raise RuntimeError(f"the fake Cal.com did not start: {error}") from error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            if self._server is not None:
                self._loop.run(self._server.stop(), timeout=30)
            self._loop.close()
        self._loop = None

    def call(self, function: Any, *args: Any) -> Any:
        """Run `function(*args)` on the fake's loop thread and return its result (thread-safe)."""
        assert self._loop is not None

        async def run() -> Any:
            return function(*args)

        return self._loop.run(run())

    @property
    def server(self) -> FakeServer:
        assert self._server is not None, "not started"
        return self._server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def backend(self) -> Backend:
        return self.server.backend

    @property
    def clock(self) -> VirtualClock:
        return self.server.clock

    @property
    def state(self) -> FakeState:
        return self.server.state

    def __enter__(self) -> ThreadedFakeServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
