"""Small helpers for tests that talk to the fake: seed constants, an API caller, a webhook sink.

Used by this repository's tests and usable by others (import needs aiohttp).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

ANNA_KEY = "cal_live_calharness_anna"
BEN_KEY = "cal_live_calharness_ben"
CLARA_KEY = "cal_live_calharness_clara"
API_KEYS = {101: ANNA_KEY, 102: BEN_KEY, 103: CLARA_KEY}

# A Monday, 11:40 in Berlin: the next bookable default slot is Tuesday 09:00 Berlin (07:00Z).
FROZEN_NOW = "2025-10-06T09:40:00.000Z"
TUESDAY_0900 = "2025-10-07T07:00:00.000Z"
TUESDAY_0930 = "2025-10-07T07:30:00.000Z"
TUESDAY_1000 = "2025-10-07T08:00:00.000Z"

BOOKINGS_VERSION = "2024-08-13"
SLOTS_VERSION = "2024-09-04"
EVENT_TYPES_VERSION = "2024-06-14"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def data(self) -> Any:
        return self.json["data"]


class CalcomApi:
    """Calls the fake like a client would: `await api.post("/v2/bookings", body)`."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, *, key: str | None = ANNA_KEY) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.key = key

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        version: str | None = BOOKINGS_VERSION,
        key: str | bool | None = True,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Reply:
        sent: dict[str, str] = dict(headers or {})
        api_key = self.key if key is True else key
        if api_key:
            sent["Authorization"] = f"Bearer {api_key}"
        if version:
            sent["cal-api-version"] = version
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        async with self.session.request(
            method, self.base_url + path, data=data, headers=sent, params=params, timeout=timeout
        ) as response:
            return Reply(response.status, dict(response.headers), await response.read())

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return await self.call("POST", path, body, **kwargs)

    async def book(
        self,
        start: str = TUESDAY_0900,
        *,
        event_type_id: int = 2001,
        name: str = "Hansi Sputer",
        email: str = "termin@praxis-berlin.example",
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Reply:
        body = {
            "start": start,
            "eventTypeId": event_type_id,
            "attendee": {"name": name, "email": email, "timeZone": "Europe/Berlin"},
            "metadata": metadata if metadata is not None else {"call_id": "call_1"},
        }
        return await self.post("/v2/bookings", body, **kwargs)


@dataclass
class ReceivedWebhook:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """An aiohttp endpoint that records every delivery (answers `status`, 200 by default)."""

    status: int = 200
    received: list[ReceivedWebhook] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    url: str = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(ReceivedWebhook(dict(request.headers), await request.read()))
        return web.Response(status=self.status, text="ok")

    async def start(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> WebhookReceiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def triggers(self) -> list[str]:
        return [r.json["triggerEvent"] for r in self.received]


async def gather_limited(coroutines: list[Any], limit: int) -> list[Any]:
    """`asyncio.gather` with at most `limit` running at once."""
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine: Any) -> Any:
        async with semaphore:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))
