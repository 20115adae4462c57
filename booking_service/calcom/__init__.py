"""Cal.com API v2 client: wire format, timeouts, retries, rate limits, circuit breaker."""

from booking_service.calcom.client import CalcomClient
from booking_service.calcom.errors import (
    CalcomError,
    CalcomRequestError,
    CalcomUnavailable,
    CircuitOpenError,
    RateLimitedError,
)
from booking_service.calcom.models import UpstreamBooking

__all__ = [
    "CalcomClient",
    "CalcomError",
    "CalcomRequestError",
    "CalcomUnavailable",
    "CircuitOpenError",
    "RateLimitedError",
    "UpstreamBooking",
]
