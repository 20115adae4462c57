"""HTTP client for the booking service (docs/contracts.md §2.3).

Every call returns an `Answer` rather than raising for HTTP-level trouble, because drivers must
record *what happened* (an answer, a refusal, or an unknown outcome) instead of crashing: a
timeout or a reset connection becomes ``Answer(outcome="unknown")`` — Jepsen's ``info``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp

from fake_calcom.loop_thread import LoopThread

T = TypeVar("T")


@dataclass
class Answer:
    """One HTTP exchange with the service, as a driver sees it."""

    http_status: int | None  # None: no answer (timeout, connection error)
    body: Any = None  # parsed JSON, or the raw text when it was not JSON
    error: str | None = None  # why there is no (usable) answer
    headers: dict[str, str] = field(default_factory=dict)
    raw: Any = None  # the service's own reply, when an adapter translated it into `body`

    @property
    def answered(self) -> bool:
        return self.http_status is not None

    @property
    def status(self) -> str | None:
        """The service's machine-readable ``status`` field, if any."""
        return self.body.get("status") if isinstance(self.body, dict) else None

    @property
    def success(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("success") is True


class ServiceClient:
    """Async client; one aiohttp session, reused (connection pooling matters under load)."""

    def __init__(self, base_url: str, *, timeout_s: float = 30.0,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def request(self, method: str, path: str, *, json_body: Any = None,
                      data: bytes | None = None, headers: dict[str, str] | None = None,
                      params: dict[str, str] | None = None,
                      timeout_s: float | None = None) -> Answer:
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        try:
            async with self._sess().request(method, self.base_url + path, json=json_body,
                                            data=data, headers=headers, params=params,
                                            timeout=timeout) as resp:
                text = await resp.text()
                try:
                    body: Any = json.loads(text) if text else None
                except ValueError:
                    body = text
                return Answer(resp.status, body, headers=dict(resp.headers))
        except TimeoutError:
            return Answer(None, error="timeout")
        except aiohttp.ClientError as exc:
            return Answer(None, error=f"{type(exc).__name__}: {exc}")

    # Retell function calls (voice agent → service) -------------------------------------------

    async def retell(self, function: str, args: dict[str, Any], *,
                     to_number: str | None = None, timeout_s: float | None = None) -> Answer:
        body: dict[str, Any] = {"args": args}
        if to_number or args.get("call_id"):
            body["call"] = {"call_id": args.get("call_id"), "to_number": to_number}
        return await self.request("POST", f"/api/retell/{function}", json_body=body,
                                  timeout_s=timeout_s)

    async def check_availability(self, args: dict[str, Any], **kw: Any) -> Answer:
        return await self.retell("check-availability", args, **kw)

    async def collect_appointment(self, args: dict[str, Any], **kw: Any) -> Answer:
        return await self.retell("collect-appointment", args, **kw)

    async def cancel_appointment(self, args: dict[str, Any], **kw: Any) -> Answer:
        return await self.retell("cancel-appointment", args, **kw)

    async def reschedule_appointment(self, args: dict[str, Any], **kw: Any) -> Answer:
        return await self.retell("reschedule-appointment", args, **kw)

    # Tenant-scoped read API ---------------------------------------------------------------------

    @staticmethod
    def _auth(api_key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def list_appointments(self, api_key: str | None, **filters: str) -> Answer:
        return await self.request("GET", "/api/appointments", headers=self._auth(api_key),
                                  params=filters or None)

    async def get_appointment(self, api_key: str | None, appointment_id: int | str) -> Answer:
        return await self.request("GET", f"/api/appointments/{appointment_id}",
                                  headers=self._auth(api_key))

    async def search_customers(self, api_key: str | None, search: str) -> Answer:
        return await self.request("GET", "/api/customers", headers=self._auth(api_key),
                                  params={"search": search})

    async def reconcile(self, api_key: str | None, *, repair: bool = False) -> Answer:
        return await self.request("POST", "/api/reconcile", headers=self._auth(api_key),
                                  json_body={"repair": repair})

    # Webhooks, health, metrics ------------------------------------------------------------------

    async def deliver_webhook(self, raw_body: bytes, signature: str | None) -> Answer:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Cal-Signature-256"] = signature
        return await self.request("POST", "/api/webhooks/calcom", data=raw_body, headers=headers)

    async def health(self) -> Answer:
        return await self.request("GET", "/healthz")

    async def metrics(self) -> Answer:
        return await self.request("GET", "/metrics")


class SyncServiceClient:
    """Blocking facade over `ServiceClient` for synchronous drivers (Hypothesis rules, CLI).

    It runs the async client on a private event loop in a background thread, so it can be used
    from code that is itself called from inside another running loop's thread.
    """

    def __init__(self, base_url: str, *, timeout_s: float = 30.0) -> None:
        self._loop = LoopThread(name="service-client")
        self._client = ServiceClient(base_url, timeout_s=timeout_s)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coro, timeout=None)

    def close(self) -> None:
        if self._loop.running:
            self._run(self._client.close())
        self._loop.close()

    def __enter__(self) -> SyncServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            if isinstance(result, Awaitable):
                return self._run(result)  # type: ignore[arg-type]
            return result

        return call
