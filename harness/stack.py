"""The embedded stack: the fake Cal.com and the reference booking service in this process.

Both run as aiohttp apps on one background event-loop thread, on free loopback ports, talking to
each other over real HTTP — and the harness talks to them over HTTP too, exactly as it talks to a
deployment: the voice API through the voice adapter, the fake's control plane, and the
service's test-control protocol (on, with a random token). So the embedded stack is just a
target the harness started itself (`stack.target`), and a scenario sees the same service
in process as out of process.

This is the embedded adapter: the only module of `harness` that imports `booking_service`.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from booking_service import Defenses, Settings, create_app
from booking_service.tenants import demo_tenants
from fake_calcom import FakeConfig, FakeServer
from fake_calcom.backend.clock import VirtualClock
from fake_calcom.client import FakeControl
from fake_calcom.loop_thread import LoopThread
from harness.clients.service import SyncServiceClient
from harness.control import TestControlClient
from harness.db import DatabaseChoice, choose_database
from harness.target import Target, TargetCompany

T = TypeVar("T")

WEBHOOK_SECRET = "whsec_calharness_embedded"
DEFAULT_CALCOM_KEY = "cal_live_calharness_anna"


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
    #: a second service on the same database (two replicas); default: when it is MariaDB/MySQL
    replica: bool | None = None


def defenses_with_off(names: Iterable[str]) -> Defenses:
    """A `Defenses` with every defense on except those named (unknown names are an error)."""
    return Defenses.with_off(list(names))


def demo_companies() -> dict[str, TargetCompany]:
    """The demo tenants (contract §2.6) as target companies (ids come from test control)."""
    companies = {}
    for role, doc in zip(("primary", "secondary"), demo_tenants()["companies"], strict=False):
        companies[role] = TargetCompany(role=role, api_key=doc["api_key"], name=doc["name"],
                                        phone=doc["branches"][0]["phone"],
                                        fallback_email=doc.get("fallback_email"),
                                        calcom_api_key=doc.get("calcom_api_key"),
                                        branch_ids=tuple(b["id"] for b in doc["branches"]))
    return companies


class EmbeddedStack:
    """Start with `start()` (or use as a context manager); stop with `stop()`."""

    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.loop_thread = LoopThread(name=f"calharness-{self.options.label}")
        self.database: DatabaseChoice | None = None
        self.clock = VirtualClock()  # the fake's; the service's own follows it (test control)
        self.token = secrets.token_urlsafe(16)
        self.fake: FakeServer | None = None
        self._runners: list[web.AppRunner] = []
        self.fake_url = ""
        self.service_url = ""
        self.replica_url: str | None = None
        self.control: FakeControl | None = None
        self.service: SyncServiceClient | None = None
        self._settings: Settings | None = None

    # lifecycle ----------------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 120) -> T:
        """Run a coroutine on the stack's loop and wait for its result."""
        return self.loop_thread.run(coro, timeout)

    def start(self) -> EmbeddedStack:
        self.database = choose_database(self.options.database_url, label=self.options.label,
                                        allow_docker=self.options.allow_docker)
        try:
            self.run(self._astart())
        except BaseException:
            self.stop()
            raise
        self.control = FakeControl(self.fake_url)
        self.service = SyncServiceClient(self.service_url)
        self.subscribe_webhooks()
        return self

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def _astart(self) -> None:
        opts = self.options
        self.fake = FakeServer(FakeConfig(seed=opts.seed, rate_limit=opts.rate_limit,
                                          journal=opts.journal, clock=self.clock))
        await self.fake.__aenter__()
        self.fake_url = self.fake.url
        self._settings = Settings(
            database_url=self.database.url if self.database else "",
            calcom_base_url=self.fake_url, calcom_api_key=DEFAULT_CALCOM_KEY,
            webhook_secret=WEBHOOK_SECRET, defenses=defenses_with_off(opts.defenses_off),
            calcom_timeout_s=opts.calcom_timeout_s, test_control_token=self.token,
            **opts.service_settings)
        self.service_url = await self._serve(create_app(self._settings))
        replica = opts.replica
        if replica is None:
            replica = self.database is not None and self.database.kind == "mariadb"
        if replica:
            # Its own clock and failpoints (the harness moves and arms both replicas).
            twin = dataclasses.replace(self._settings, clock=None, failpoints=None,
                                       migrate_on_startup=False)
            self.replica_url = await self._serve(create_app(twin))

    async def _astop(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self.fake is not None:
            await self.fake.__aexit__(None, None, None)
            self.fake = None

    def stop(self) -> None:
        if self.service is not None:
            self.service.close()
            self.service = None
        if self.loop_thread.running:
            try:
                self.run(self._astop(), timeout=30)
            finally:
                self.loop_thread.close()
        if self.database is not None:
            self.database.close()
            self.database = None

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # as a target --------------------------------------------------------------------------------

    @property
    def target(self) -> Target:
        """This stack as the harness sees any deployment: URLs, the voice adapter, the fake's
        control plane and the service's test control. Everything is allowed: it is ours."""
        return Target(name="embedded", service_url=self.service_url, companies=demo_companies(),
                      allow_booking=True, allow_faults=True, max_requests=None,
                      calcom_control_url=self.fake_url, test_control_url=self.service_url,
                      test_control_token=self.token, replica_url=self.replica_url,
                      embedded=True)

    # between runs (load, tests) -------------------------------------------------------------------

    def subscribe_webhooks(self) -> None:
        assert self.control is not None
        self.control.subscribe(f"{self.service_url}/api/webhooks/calcom", secret=WEBHOOK_SECRET)

    def reset(self, defenses_off: Iterable[str] | None = None) -> None:
        """Back to a clean slate: the fake as it started (seed data, no bookings, no faults, rate
        limiting and journal as configured, clock real), the service wiped (tenants kept,
        failpoints disarmed, clock real) with the defenses given (default: the stack's own)."""
        off = self.options.defenses_off if defenses_off is None else tuple(defenses_off)
        assert self.control is not None
        self.control.reset("restore")
        self.run(self._reset_services(list(off)))
        self.subscribe_webhooks()

    async def _reset_services(self, defenses_off: list[str]) -> None:
        for url in (self.service_url, self.replica_url):
            if url is not None:
                control = TestControlClient(url, self.token)
                try:
                    await control.reset(defenses_off)
                finally:
                    await control.close()
