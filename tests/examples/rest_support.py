"""Shared pieces of the REST example's tests: times, the running service, ground truth."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from examples.rest_booking import Settings

API_KEY = "cal_live_calharness_anna"
#: Monday 09:00 in Berlin: the slots below are the next day, past Cal.com's minimum notice.
NOW = "2026-03-02T08:00:00Z"
SLOT = "2026-03-03T09:00:00Z"  # Tuesday 10:00 Berlin (Anna and Ben work 09:00–17:00)
LATER = "2026-03-03T11:00:00Z"
ADA, BOB = "+4915500000001", "+4915500000002"  # callers' phone numbers (E.164)


@dataclass
class Service:
    """One running instance of the example and an HTTP client for it."""

    url: str
    http: aiohttp.ClientSession
    settings: Settings

    async def call(self, method: str, path: str, body: Any = None,
                   **params: str) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, json=body,
                                     params=params or None) as response:
            return response.status, await response.json()

    async def book(self, name: str, phone: str, start: str = SLOT, service: str = "Beratung",
                   **extra: str) -> tuple[int, Any]:
        return await self.call("POST", "/bookings", {"service": service, "start": start,
                                                     "name": name, "phone": phone, **extra})


StartService = Callable[..., Awaitable[Service]]


def calcom_bookings(calcom: Any, phone: str) -> list[dict[str, Any]]:
    """Cal.com's active bookings (ground truth) whose attendee gave this phone number."""
    return [b for b in calcom.control.state()["bookings"]
            if b["status"] in ("accepted", "pending")
            and any(a.get("phoneNumber") == phone for a in b["attendees"])]
