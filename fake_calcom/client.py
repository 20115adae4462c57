"""Clients of the control plane `/_fake/…`: `AsyncFakeControl`, and `FakeControl`, its blocking twin.

`AsyncFakeControl` covers every control-plane endpoint of contracts §1.6 and returns the decoded
JSON; `FakeControl` has the same methods (derived from it, so the two never drift apart), each
run to completion on a shared background event loop — usable from any test, thread or script. A
non-2xx answer raises `FakeControlError` carrying the status and the `{"error": …}` message.

    control = FakeControl("http://127.0.0.1:8787")
    control.reset()
    control.freeze("2025-10-06T09:40:00Z")
    control.add_fault({"match": {"method": "POST", "path": "/v2/bookings"},
                       "action": {"kind": "status", "status": 503}})
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fake_calcom.backend.timefmt import iso_ms
from fake_calcom.loop_thread import LoopThread


class FakeControlError(RuntimeError):
    def __init__(self, status: int, method: str, path: str, body: Any) -> None:
        message = body.get("error") if isinstance(body, dict) else body
        super().__init__(f"{method} {path} -> {status}: {message}")
        self.status = status
        self.body = body


def _iso(at: datetime | str | bool | None) -> str | bool:
    if at is None or at is True:
        return True
    if isinstance(at, datetime):
        return iso_ms(at)
    return at


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class _Requests:
    """The request each control-plane call makes: (method, path, body, query)."""

    @staticmethod
    def reset(scope: str) -> tuple[str, str, Any]:
        return "POST", "/_fake/reset", {"scope": scope}

    @staticmethod
    def take_slot(
        event_type_id: int,
        start: datetime | str,
        attendee: dict[str, Any],
        metadata: dict[str, Any] | None,
        age_s: float | None,
        created_at: datetime | str | None,
        status: str | None,
        webhooks: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "eventTypeId": event_type_id,
            "start": iso_ms(start) if isinstance(start, datetime) else start,
            "attendee": attendee,
            "webhooks": webhooks,
        }
        if metadata is not None:
            body["metadata"] = metadata
        if age_s is not None:
            body["age_s"] = age_s
        if created_at is not None:
            body["createdAt"] = iso_ms(created_at) if isinstance(created_at, datetime) else created_at
        if status is not None:
            body["status"] = status
        return body

    @staticmethod
    def rate_limit(enabled: bool | None, limit: int | None, window_s: float | None, block_s: float | None) -> dict[str, Any]:
        body = {"enabled": enabled, "limit": limit, "window_s": window_s, "block_s": block_s}
        return {k: v for k, v in body.items() if v is not None}

    @staticmethod
    def subscribe(url: str, triggers: list[str] | None, secret: str | None, active: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"subscriberUrl": url, "active": active}
        if triggers is not None:
            body["triggers"] = triggers
        if secret is not None:
            body["secret"] = secret
        return body


class AsyncFakeControl:
    """The same calls over aiohttp (pass a session to reuse one; close() otherwise)."""

    def __init__(self, base_url: str, *, session: Any = None, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = session
        self._own_session = session is None

    async def _get_session(self) -> Any:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AsyncFakeControl:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        session = await self._get_session()
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        async with session.request(method, self.base_url + path, json=body, params=params) as response:
            decoded = _decode(await response.read())
            if response.status >= 300:
                raise FakeControlError(response.status, method, path, decoded)
            return decoded

    async def reset(self, scope: str = "all") -> Any:
        return await self._call(*_Requests.reset(scope))

    async def seed_data(self) -> dict[str, Any]:
        return await self._call("GET", "/_fake/seed-data")

    async def set_seed_data(self, seed_data: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PUT", "/_fake/seed-data", seed_data)

    async def faults(self) -> dict[str, Any]:
        return await self._call("GET", "/_fake/faults")

    async def set_faults(self, plan: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PUT", "/_fake/faults", plan)

    async def add_fault(self, fault: dict[str, Any]) -> str:
        return (await self._call("POST", "/_fake/faults", fault))["name"]

    async def clear_faults(self) -> dict[str, Any]:
        return await self._call("DELETE", "/_fake/faults")

    async def clock(self) -> dict[str, Any]:
        return await self._call("GET", "/_fake/clock")

    async def freeze(self, at: datetime | str | None = None) -> dict[str, Any]:
        return await self._call("POST", "/_fake/clock", {"freeze": _iso(at)})

    async def advance(self, seconds: float) -> dict[str, Any]:
        return await self._call("POST", "/_fake/clock", {"advance_s": seconds})

    async def unfreeze(self) -> dict[str, Any]:
        return await self._call("POST", "/_fake/clock", {"unfreeze": True})

    async def reset_clock(self) -> dict[str, Any]:
        return await self._call("POST", "/_fake/clock", {"reset": True})

    async def take_slot(
        self,
        event_type_id: int,
        start: datetime | str,
        attendee: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
        age_s: float | None = None,
        created_at: datetime | str | None = None,
        status: str | None = None,
        webhooks: bool = True,
    ) -> dict[str, Any]:
        body = _Requests.take_slot(event_type_id, start, attendee, metadata, age_s, created_at, status, webhooks)
        return await self._call("POST", "/_fake/take-slot", body)

    async def state(self) -> dict[str, Any]:
        return await self._call("GET", "/_fake/state")

    async def journal(self, since: int = 0, limit: int | None = None) -> dict[str, Any]:
        return await self._call("GET", "/_fake/journal", query={"since": since, "limit": limit})

    async def set_journal(self, *, enabled: bool | None = None, capacity: int | None = None) -> dict[str, Any]:
        body = {k: v for k, v in {"enabled": enabled, "capacity": capacity}.items() if v is not None}
        return await self._call("PUT", "/_fake/journal", body)

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET", "/_fake/stats")

    async def rate_limit(self) -> dict[str, Any]:
        return await self._call("GET", "/_fake/rate-limit")

    async def set_rate_limit(
        self,
        *,
        enabled: bool | None = None,
        limit: int | None = None,
        window_s: float | None = None,
        block_s: float | None = None,
    ) -> dict[str, Any]:
        return await self._call("PUT", "/_fake/rate-limit", _Requests.rate_limit(enabled, limit, window_s, block_s))

    async def flush_webhooks(self, timeout_s: float = 10.0) -> dict[str, Any]:
        return await self._call("POST", "/_fake/webhooks/flush", {"timeout_s": timeout_s})

    async def rendezvous(self) -> dict[str, Any]:
        return await self._call("GET", "/_fake/rendezvous")

    async def hold_webhooks(self, hold: bool = True) -> dict[str, Any]:
        return await self._call("PUT", "/_fake/webhooks/mode", {"hold": hold})

    async def subscribe(
        self, subscriber_url: str, *, triggers: list[str] | None = None, secret: str | None = None, active: bool = True
    ) -> dict[str, Any]:
        return await self._call("POST", "/_fake/webhooks/subscribe", _Requests.subscribe(subscriber_url, triggers, secret, active))


_shared: LoopThread | None = None
_shared_guard = threading.Lock()


def _loop() -> LoopThread:
    """One background loop for every blocking client of this process (started on first use)."""
    global _shared
    with _shared_guard:
        if _shared is None or not _shared.running:
            _shared = LoopThread(name="fake-calcom-control")
        return _shared


class FakeControl:
    """Blocking client: each method is `AsyncFakeControl`'s, run on a shared background loop
    with a session of its own (so nothing is left open between calls)."""

    def __init__(self, base_url: str, *, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def _blocking(self, name: str, *args: Any, **kwargs: Any) -> Any:
        async def call() -> Any:
            async with AsyncFakeControl(self.base_url, timeout_s=self.timeout_s) as control:
                return await getattr(control, name)(*args, **kwargs)

        return _loop().run(call(), timeout=self.timeout_s + 5)

    def _call(self, method: str, path: str, body: Any = None,
              query: dict[str, Any] | None = None) -> Any:
        """Any control-plane request (for paths without a method, and bad bodies in tests)."""
        return self._blocking("_call", method, path, body, query)

    def close(self) -> None:
        """Nothing to close (kept so callers may treat both clients alike)."""

    if TYPE_CHECKING:  # the twins below are made at import time; to a type checker: Any
        def __getattr__(self, name: str) -> Any: ...


def _blocking_twin(name: str, method: Any) -> Any:
    @functools.wraps(method)
    def call(self: FakeControl, *args: Any, **kwargs: Any) -> Any:
        return self._blocking(name, *args, **kwargs)
    return call


for _name, _method in inspect.getmembers(AsyncFakeControl, inspect.iscoroutinefunction):
    if not _name.startswith("_") and _name != "close":
        setattr(FakeControl, _name, _blocking_twin(_name, _method))
