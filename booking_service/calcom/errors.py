"""What can go wrong talking to Cal.com, sorted by what the caller may conclude.

* `CalcomRequestError` — Cal.com answered 4xx: it definitely did not do it.
* `RateLimitedError` — 429 and the window is too far away to wait for: not done.
* `CircuitOpenError` — the breaker refused to send the request: not done.
* `CalcomUnavailable` — 5xx, timeout, reset, unreadable body. For a write the outcome is
  `ambiguous` (Cal.com may have committed before failing) unless the request never left.
"""

from __future__ import annotations


class CalcomError(Exception):
    """Any failure of a Cal.com call."""

    #: Stable machine-readable kind (used in metrics labels and answers).
    kind = "error"


class CalcomRequestError(CalcomError):
    """A 4xx answer with Cal.com's message (envelope or bare Nest body)."""

    kind = "rejected"

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(f"Cal.com {status}: {message}")
        self.status = status
        self.message = message
        self.code = code

    @property
    def slot_unavailable(self) -> bool:
        """Host busy or outside availability ("User either already has booking …")."""
        text = self.message.lower()
        return self.status == 400 and (
            "already has booking" in text
            or "not available" in text
            or "no_available_users" in text
            or "hosts_unavailable" in text
        )

    @property
    def booking_conflict(self) -> bool:
        """The 409 of two creates racing for one slot (`booking_conflict_error`)."""
        return self.status == 409 and "booking_conflict" in self.message.lower()

    @property
    def in_the_past(self) -> bool:
        return self.status == 400 and "in the past" in self.message.lower()

    @property
    def out_of_bounds(self) -> bool:
        """Minimum notice or too far ahead (booking_time_out_of_bounds)."""
        text = self.message.lower()
        return self.status == 400 and (
            "too soon" in text or "out_of_bounds" in text or "can't be booked at" in text
        )


class RateLimitedError(CalcomError):
    kind = "rate_limited"

    def __init__(self, reset_s: float) -> None:
        super().__init__(f"Cal.com rate limit; window resets in {reset_s:.0f} s")
        self.reset_s = reset_s


class CircuitOpenError(CalcomError):
    kind = "circuit_open"

    def __init__(self, retry_in_s: float) -> None:
        super().__init__(f"Cal.com circuit open; next probe in {retry_in_s:.1f} s")
        self.retry_in_s = retry_in_s


class CalcomUnavailable(CalcomError):
    """Cal.com did not give a usable answer. `ambiguous`: a write may have happened anyway."""

    kind = "unavailable"

    def __init__(self, message: str, *, ambiguous: bool = True) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


class CalcomTimeout(CalcomUnavailable):
    kind = "timeout"


class CalcomConnectionError(CalcomUnavailable):
    kind = "connection"


class CalcomServerError(CalcomUnavailable):
    kind = "server_error"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Cal.com {status}: {message}")
        self.status = status


class CalcomBadResponse(CalcomUnavailable):
    """A 2xx whose body cannot be read (truncated, not JSON, empty, wrong shape)."""

    kind = "bad_response"
