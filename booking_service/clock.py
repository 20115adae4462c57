"""Clock used for every policy decision (freshness, backoff, rate-limit waits, circuit timing).

The harness swaps in a virtual clock (anything with `now()` and `async sleep()`, e.g. the fake's
`VirtualClock`) so waits take no wall time and "35 minutes old" can be arranged instantly.
Network timeouts stay on wall time: they protect a real socket.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock's time line."""
        ...


class RealClock:
    """Wall-clock time and real sleeps."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def utc_now(clock: Clock) -> datetime:
    """`clock.now()` normalised to aware UTC (a clock may answer in any zone)."""
    now = clock.now()
    if now.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    return now.astimezone(UTC)
