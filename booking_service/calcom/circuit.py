"""A circuit breaker for Cal.com, timed by the service clock.

closed → (N consecutive failures) → open → (after `open_s`) → half-open: one probe at a time;
its success closes the circuit, its failure opens it again. Answers that prove Cal.com is alive
(any 2xx/4xx, a 429) count as successes; timeouts, resets and 5xx as failures.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from booking_service.calcom.errors import CircuitOpenError


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int,
        open_s: float,
        now: Callable[[], datetime],
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.open_s = open_s
        self._now = now
        self._on_change = on_change
        self._state = "closed"
        self._failures = 0
        self._opened_at: datetime | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> str:
        """`closed`, `open` or `half_open` (an open circuit whose wait is over reads half_open)."""
        if self._state == "open" and self._wait_over():
            return "half_open"
        return self._state

    def _wait_over(self) -> bool:
        assert self._opened_at is not None
        return (self._now() - self._opened_at).total_seconds() >= self.open_s

    def _set(self, state: str) -> None:
        if state != self._state:
            self._state = state
            if self._on_change:
                self._on_change(state)

    def before_call(self) -> None:
        """Raise `CircuitOpenError` unless a call may go out now."""
        if self._state == "closed":
            return
        if self._state == "open":
            if not self._wait_over():
                assert self._opened_at is not None
                elapsed = (self._now() - self._opened_at).total_seconds()
                raise CircuitOpenError(self.open_s - elapsed)
            self._set("half_open")
        if self._probe_in_flight:
            raise CircuitOpenError(0.0)
        self._probe_in_flight = True

    def record_success(self) -> None:
        self._failures = 0
        self._probe_in_flight = False
        self._set("closed")

    def record_failure(self) -> None:
        self._probe_in_flight = False
        if self._state == "half_open":
            self._open()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._open()

    def _open(self) -> None:
        self._opened_at = self._now()
        self._failures = 0
        self._set("open")

    def abandon(self) -> None:
        """A call was cancelled before it told us anything: free the probe slot."""
        self._probe_in_flight = False

    def reset(self) -> None:
        """Closed, no failures counted (a fresh start, e.g. between harness scenarios)."""
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False
        self._set("closed")
