"""The service's clock under test control: real time plus an offset, or a frozen instant.

The harness freezes and moves it over `/_test/clock` together with Cal.com's clock (the fake's),
so "35 minutes old" can be arranged exactly and policy waits (backoff, rate-limit windows, the
circuit's open time) take no wall time. A policy wait on a frozen clock moves time instead of
sleeping; when a *peer* clock is linked (the fake Cal.com's control URL) the wait moves it too,
so the two stay one time line although they live in different processes.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import aiohttp


def _real_now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ControlledClock:
    """Satisfies `booking_service.clock.Clock`; controlled by the test-control endpoints."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None
        self.peer: str | None = None  # a clock endpoint to advance with ours ("…/_fake/clock")

    def now(self) -> datetime:
        frozen = self._frozen_at
        return frozen if frozen is not None else _real_now() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def freeze(self, at: datetime | None = None) -> None:
        if at is not None and at.tzinfo is None:
            raise ValueError("freeze needs an aware time")
        with self._lock:
            self._frozen_at = (at if at is not None else self.now()).astimezone(UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            delta = timedelta(seconds=seconds)
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - _real_now()
                self._frozen_at = None

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)
            self._frozen_at = None
            self.peer = None

    async def sleep(self, seconds: float) -> None:
        """A policy wait: on a frozen clock, move time (ours and the peer's) and return."""
        if not self.frozen:
            await asyncio.sleep(max(0.0, seconds))
            return
        self.advance(seconds)
        if self.peer is not None and seconds > 0:
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as http, http.post(
                    self.peer, json={"advance_s": seconds}) as response:
                response.raise_for_status()
        await asyncio.sleep(0)

    def describe(self) -> dict[str, object]:
        offset = ((self._frozen_at - _real_now()) if self._frozen_at is not None
                  else self._offset).total_seconds()
        return {"now": _iso(self.now()), "frozen": self.frozen, "offset_s": round(offset, 6),
                "peer": self.peer}
