"""Test helpers: a manual clock and a tiny scripted Cal.com stub for the client's unit tests.

The stub only exists to pin the client's retry, timeout, rate-limit and circuit logic to exact
answers; everything about Cal.com's behaviour is tested against the real fake (fake_calcom).
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


class ManualClock:
    """A frozen clock: `sleep` advances it at once and is recorded (policy waits, virtual time)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class Reply:
    """One scripted answer: a status and body, or a hang / a connection reset."""

    status: int = 200
    body: Any = None  # dict/list → JSON; str/bytes → raw
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the stub closes): the client must time out
    reset: bool = False
    content_type: str = "application/json"


def success(data: Any, status: int = 200, **extra: Any) -> Reply:
    return Reply(status, {"status": "success", "data": data, **extra})


def booking_data(
    uid: str = "uid1", start: str = "2026-01-12T09:00:00.000Z", **fields: Any
) -> dict[str, Any]:
    data = {
        "id": 1,
        "uid": uid,
        "status": "accepted",
        "start": start,
        "end": "2026-01-12T09:30:00.000Z",
        "createdAt": "2026-01-05T08:00:00.000Z",
        "updatedAt": "2026-01-05T08:00:00.000Z",
        "eventTypeId": 2001,
        "hosts": [{"id": 101}],
        "attendees": [{"name": "Hans Schuster", "email": "hans@example.com"}],
        "metadata": {},
    }
    data.update(fields)
    return data


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class CalcomStub:
    """Answers each `METHOD /path` from its script (in order); unscripted requests get 404."""

    def __init__(self) -> None:
        self.scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self._server: TestServer | None = None
        self._closing = asyncio.Event()

    def script(self, route: str, *replies: Reply) -> None:
        self.scripts[route].extend(replies)

    def count(self, route: str) -> int:
        method, _, path = route.partition(" ")
        return sum(1 for s in self.seen if s.method == method and s.path == path)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.seen.append(
            Seen(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        queue = self.scripts.get(f"{request.method} {request.path}")
        if not queue:
            return web.json_response({"statusCode": 404, "message": "not scripted"}, status=404)
        reply = queue.popleft()
        if reply.hang:
            await self._closing.wait()
        if reply.reset:
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        if isinstance(reply.body, dict | list):
            payload = json.dumps(reply.body).encode()
        elif isinstance(reply.body, str):
            payload = reply.body.encode()
        else:
            payload = reply.body or b""
        return web.Response(
            status=reply.status,
            body=payload,
            headers={"Content-Type": reply.content_type, **reply.headers},
        )

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return str(self._server.make_url("")).rstrip("/")

    async def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            await self._server.close()
