"""Client of the test-control protocol (docs/contracts.md §4) a service may implement.

The reference service implements all of it (`booking_service/test_control`); a user's service
may implement a part: `GET /_test` says which capabilities it has. Errors raise
:class:`TestControlError` with the service's message.
"""

from __future__ import annotations

from typing import Any

import aiohttp

PROTOCOL = "calharness-test-control"
VERSION = 1


class TestControlError(RuntimeError):
    __test__ = False  # not a pytest class

    def __init__(self, status: int | None, method: str, path: str, message: str) -> None:
        super().__init__(f"test control {method} {path} -> {status}: {message}")
        self.status = status


class TestControlClient:
    __test__ = False

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, method: str, path: str, body: Any = None,
                   params: dict[str, str] | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        try:
            async with self._session.request(method, self.base_url + path, json=body,
                                             params=params) as response:
                try:
                    document = await response.json(content_type=None)
                except ValueError:
                    document = {"error": (await response.text())[:300]}
                if response.status >= 400:
                    message = document.get("error") if isinstance(document, dict) else document
                    raise TestControlError(response.status, method, path, str(message))
                return document
        except aiohttp.ClientError as exc:
            raise TestControlError(None, method, path, f"{type(exc).__name__}: {exc}") from None

    async def describe(self) -> dict[str, Any]:
        document = await self.call("GET", "/_test")
        if not isinstance(document, dict) or document.get("protocol") != PROTOCOL:
            raise TestControlError(200, "GET", "/_test",
                                   f"not the {PROTOCOL} protocol: {str(document)[:200]}")
        if document.get("version") != VERSION:
            raise TestControlError(200, "GET", "/_test",
                                   f"protocol version {document.get('version')}, this harness "
                                   f"speaks {VERSION}")
        return document

    async def reset(self, defenses_off: list[str]) -> Any:
        return await self.call("POST", "/_test/reset", {"defenses_off": defenses_off})

    async def set_defenses(self, off: list[str]) -> Any:
        return await self.call("PUT", "/_test/defenses", {"off": off})

    async def clock(self, **change: Any) -> dict[str, Any]:
        if not change:
            return dict(await self.call("GET", "/_test/clock"))
        return dict(await self.call("POST", "/_test/clock", change))

    async def arm_failpoint(self, name: str, directive: dict[str, Any]) -> Any:
        return await self.call("PUT", f"/_test/failpoints/{name}", directive)

    async def disarm_failpoint(self, name: str | None = None) -> Any:
        return await self.call("DELETE", "/_test/failpoints" + (f"/{name}" if name else ""))

    async def failpoints(self) -> dict[str, Any]:
        return dict((await self.call("GET", "/_test/failpoints"))["failpoints"])

    async def state(self, *, rows: bool = False) -> dict[str, Any]:
        params = {"rows": "1"} if rows else None
        return dict(await self.call("GET", "/_test/state", params=params))

    async def settings(self, **knobs: float) -> dict[str, Any]:
        return dict((await self.call("PATCH", "/_test/settings", knobs))["settings"])

    async def logs(self, since: int = 0) -> dict[str, Any]:
        return dict(await self.call("GET", "/_test/logs", params={"since": str(since)}))
