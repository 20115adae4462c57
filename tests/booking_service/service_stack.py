"""The stack the integration tests drive over real HTTP: the fake Cal.com and the booking service.

Both share one frozen `VirtualClock` (the fake's), so "35 minutes old" is arranged instantly and
the service's policy waits (backoff, rate-limit windows) advance virtual time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp.test_utils import TestServer

from booking_service import Defenses, Settings, context_of, create_app
from booking_service.context import ServiceContext
from booking_service.models import Appointment, AuditLog
from fake_calcom import FakeConfig, FakeServer
from fake_calcom.backend.clock import VirtualClock
from fake_calcom.client import AsyncFakeControl

# Monday 5 January 2026, 08:00 in Berlin. The slot S is Wednesday 7 January, 14:00 Berlin.
NOW = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
S_DATUM, S_UHRZEIT = "07.01.2026", "14:00"
S = datetime(2026, 1, 7, 13, 0, tzinfo=UTC)
S_ISO = "2026-01-07T13:00:00Z"
WEBHOOK_SECRET = "whsec_calharness"
FALLBACK_EMAIL = "termin@praxis-berlin.example"
ANNA_KEY = "cal_live_calharness_anna"
BERLIN_KEY, HAMBURG_KEY = "bs_demo_berlin", "bs_demo_hamburg"


class Barrier:
    """N parties meet here, or each gives up after `timeout_s` (then the flow just goes on)."""

    def __init__(self, parties: int, timeout_s: float = 1.0) -> None:
        self.parties = parties
        self.timeout_s = timeout_s
        self.arrived = 0
        self._all_here = asyncio.Event()
        self.timed_out = 0

    async def wait(self, _context: dict[str, Any] | None = None) -> None:
        self.arrived += 1
        if self.arrived >= self.parties:
            self._all_here.set()
        try:
            await asyncio.wait_for(self._all_here.wait(), self.timeout_s)
        except TimeoutError:
            self.timed_out += 1


@dataclass
class Stack:
    fake: FakeServer
    control: AsyncFakeControl
    service: TestServer
    http: aiohttp.ClientSession
    clock: VirtualClock

    @property
    def url(self) -> str:
        return str(self.service.make_url("")).rstrip("/")

    @property
    def ctx(self) -> ServiceContext:
        return context_of(self.service.app)

    async def post(
        self,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with self.http.post(self.url + path, headers=headers, **kwargs) as response:
            text = await response.text()
            try:
                return response.status, await response.json(content_type=None)
            except ValueError:
                return response.status, text

    async def get(
        self, path: str, key: str | None = None, params: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with self.http.get(self.url + path, headers=headers, params=params) as response:
            return response.status, await response.json(content_type=None)

    async def retell(
        self, function: str, *, to_number: str | None = None, **args: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"args": args}
        if to_number:
            body["call"] = {"to_number": to_number}
        status, answer = await self.post(f"/api/retell/{function}", body)
        assert status == 200, answer
        return answer

    async def collect(
        self, call_id: str, name: str = "Hans Schuster", service: str = "Beratung", **args: Any
    ) -> dict[str, Any]:
        args = {
            "datum": S_DATUM,
            "uhrzeit": S_UHRZEIT,
            "name": name,
            "dienstleistung": service,
            "call_id": call_id,
            **args,
        }
        return await self.retell("collect-appointment", **args)

    async def calcom(
        self, method: str, path: str, body: Any = None, *, key: str = ANNA_KEY
    ) -> tuple[int, Any]:
        """Talk to the fake's API like an outside Cal.com user would."""
        headers = {"Authorization": f"Bearer {key}", "cal-api-version": "2024-08-13"}
        async with self.http.request(
            method, self.fake.url + path, json=body, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)

    async def appointments(self) -> list[Appointment]:
        async with self.ctx.sessions() as session:
            return list(
                (await session.execute(sa.select(Appointment).order_by(Appointment.id))).scalars()
            )

    async def audit(self) -> list[AuditLog]:
        async with self.ctx.sessions() as session:
            return list(
                (await session.execute(sa.select(AuditLog).order_by(AuditLog.id))).scalars()
            )

    async def upstream(self) -> list[dict[str, Any]]:
        """The fake's ground-truth bookings."""
        return list((await self.control.state())["bookings"])

    async def active_upstream_at(self, start_iso: str = S_ISO) -> list[dict[str, Any]]:
        wanted = datetime.fromisoformat(start_iso.replace("Z", "+00:00"))
        return [
            b
            for b in await self.upstream()
            if b["status"] in ("accepted", "pending")
            and datetime.fromisoformat(b["start"].replace("Z", "+00:00")) == wanted
        ]

    async def flush(self) -> None:
        await self.control.flush_webhooks()


StackFactory = Callable[..., contextlib.AbstractAsyncContextManager[Stack]]


@contextlib.asynccontextmanager
async def open_stack(
    database_url: str,
    *,
    defenses: Defenses | None = None,
    failpoints: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] | None = None,
    webhooks: bool = True,
    rate_limit: bool = False,
    rate_limit_per_minute: int = 120,
    **settings: Any,
) -> AsyncIterator[Stack]:
    clock = VirtualClock()
    clock.freeze(NOW)
    async with contextlib.AsyncExitStack() as stack:
        fake = await stack.enter_async_context(
            FakeServer(
                FakeConfig(
                    seed=7,
                    clock=clock,
                    rate_limit=rate_limit,
                    rate_limit_per_minute=rate_limit_per_minute,
                )
            )
        )
        control = await stack.enter_async_context(AsyncFakeControl(fake.url))
        options: dict[str, Any] = {
            "database_url": database_url,
            "calcom_base_url": fake.url,
            "webhook_secret": WEBHOOK_SECRET,
            "defenses": defenses or Defenses(),
            "clock": clock,
            "failpoints": failpoints,
            "random_seed": 11,
            "calcom_timeout_s": 5.0,
        }
        options.update(settings)
        server = TestServer(create_app(Settings(**options)), host="127.0.0.1")
        await server.start_server()
        stack.push_async_callback(server.close)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        result = Stack(fake=fake, control=control, service=server, http=http, clock=clock)
        if webhooks:
            await control.subscribe(result.url + "/api/webhooks/calcom", secret=WEBHOOK_SECRET)
        yield result
