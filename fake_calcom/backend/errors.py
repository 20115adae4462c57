"""Errors the backend raises; the wire layer renders each the way Cal.com does (contracts §1.3)."""

from __future__ import annotations

from typing import Literal

ErrorStyle = Literal["envelope", "bare"]

# Nest's HttpException subclasses by status: `error.code` in the envelope is the class name.
EXCEPTION_CLASS: dict[int, str] = {
    400: "BadRequestException",
    401: "UnauthorizedException",
    403: "ForbiddenException",
    404: "NotFoundException",
    405: "MethodNotAllowedException",
    409: "ConflictException",
    413: "PayloadTooLargeException",
    415: "UnsupportedMediaTypeException",
    422: "UnprocessableEntityException",
    429: "ThrottlerException",
    500: "InternalServerErrorException",
    502: "BadGatewayException",
    503: "ServiceUnavailableException",
    504: "GatewayTimeoutException",
}

# Nest's default `error` text in `details` (`{"message","error","statusCode"}`).
STATUS_PHRASE: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

BUSY_MESSAGE = "User either already has booking at this time or is not available"
TEAM_BUSY_MESSAGE = "One of the hosts either already has booking at this time or is not available"
PAST_MESSAGE = "Attempting to book a meeting in the past."
OUT_OF_BOUNDS_MESSAGE = (
    'The event type can\'t be booked at the "start" time provided. This could be because it\'s too '
    "soon (violating the minimum booking notice) or too far in the future (outside the event's "
    "scheduling window). Try fetching available slots first using the GET /v2/slots endpoint and "
    'then make a booking with "start" time equal to one of the available slots.'
)
BOOKING_CONFLICT = "booking_conflict_error"


class CalcomError(Exception):
    """An answer Cal.com gives instead of success."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        style: ErrorStyle = "envelope",
        code: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.style = style
        self.code = code or EXCEPTION_CLASS.get(status, "HttpException")
        # Cal.com's internal ErrorCode (e.g. "no_available_users_found_error"): the 2024-04-15
        # controller answers with it as the message, the 2024-08-13 one maps it to prose.
        self.reason = reason


class BadRequest(CalcomError):
    def __init__(self, message: str, *, code: str | None = None, reason: str | None = None) -> None:
        super().__init__(400, message, code=code, reason=reason)


class NotFound(CalcomError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class Unauthorized(CalcomError):
    def __init__(self, message: str) -> None:
        super().__init__(401, message)


class Forbidden(CalcomError):
    def __init__(self, message: str) -> None:
        super().__init__(403, message)


class BookingConflict(CalcomError):
    """The lost race on the unique idempotency key: Nest's bare body, no envelope."""

    def __init__(self) -> None:
        super().__init__(409, BOOKING_CONFLICT, style="bare", reason=BOOKING_CONFLICT)
