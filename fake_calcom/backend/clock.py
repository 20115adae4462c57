"""A virtual clock: real time by default; frozen and advanced from the control plane.

It drives createdAt/updatedAt, the "in the past" and minimum-notice checks and the rate-limit
windows, so tests can move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta


def _real_now() -> datetime:
    return datetime.now(UTC)


class VirtualClock:
    """Real time plus an offset, or a frozen instant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None

    def now(self) -> datetime:
        frozen = self._frozen_at
        if frozen is not None:
            return frozen
        return _real_now() + self._offset

    def timestamp(self) -> float:
        """Seconds since the epoch on the virtual time line (for rate-limit windows)."""
        return self.now().timestamp()

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    @property
    def offset_s(self) -> float:
        """How far the virtual time is from real time, in seconds."""
        with self._lock:
            if self._frozen_at is not None:
                return (self._frozen_at - _real_now()).total_seconds()
            return self._offset.total_seconds()

    def freeze(self, at: datetime | None = None) -> None:
        """Stop the clock at `at` (aware) or at the current virtual time."""
        if at is not None and at.tzinfo is None:
            raise ValueError("freeze needs an aware datetime")
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
        """Back to running time, continuing from the frozen instant (keeps the offset)."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - _real_now()
                self._frozen_at = None

    def reset(self) -> None:
        """Real time, zero offset."""
        with self._lock:
            self._offset = timedelta(0)
            self._frozen_at = None

    async def sleep(self, seconds: float) -> None:
        """A policy wait: when frozen, advance the clock and return at once; else sleep for real."""
        if self.frozen:
            self.advance(seconds)
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(seconds)

    def describe(self) -> dict[str, object]:
        from fake_calcom.backend.timefmt import iso_ms

        return {"now": iso_ms(self.now()), "frozen": self.frozen, "offset_s": round(self.offset_s, 6)}
