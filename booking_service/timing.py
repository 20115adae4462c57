"""Per-request accounting of time spent waiting on Cal.com (for the Server-Timing header).

The web layer opens a `UpstreamTimer` per request; the Cal.com client adds each call's duration.
The service's own overhead is then total time minus upstream time (what the benchmark reports).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class UpstreamTimer:
    seconds: float = 0.0
    calls: int = 0

    def add(self, seconds: float) -> None:
        self.seconds += seconds
        self.calls += 1


current_upstream_timer: ContextVar[UpstreamTimer | None] = ContextVar(
    "upstream_timer", default=None
)


def record_upstream(seconds: float) -> None:
    timer = current_upstream_timer.get()
    if timer is not None:
        timer.add(seconds)
