"""Cal.com's error bodies: the v2 envelope (HttpExceptionFilter) and Nest's bare bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fake_calcom.backend.errors import EXCEPTION_CLASS, STATUS_PHRASE, CalcomError
from fake_calcom.backend.timefmt import iso_ms

THROTTLED_MESSAGE = "Too many requests. Please try again later."
NO_AUTH_MESSAGE = (
    "ApiAuthStrategy - No authentication method provided. Either pass an API key as 'Bearer' "
    "header or OAuth client credentials as 'x-cal-secret-key' and 'x-cal-client-id' headers"
)
BAD_KEY_MESSAGE = "ApiAuthStrategy - api key - Your api key is not valid"
BAD_TOKEN_MESSAGE = "ApiAuthStrategy - Invalid Bearer token"
PERMISSIONS_NO_AUTH_MESSAGE = (
    "PermissionsGuard - no authentication provided. Provide either authorization bearer token "
    "containing managed user access token or oAuth client id in 'x-cal-client-id' header."
)

GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


def envelope(
    status: int,
    message: str,
    path: str,
    now: datetime,
    *,
    code: str | None = None,
    details: Any = None,
) -> dict[str, Any]:
    """`{"status":"error","timestamp","path","error":{"code","message","details"}}`."""
    if details is None:
        details = {"message": message, "error": STATUS_PHRASE.get(status, "Error"), "statusCode": status}
    return {
        "status": "error",
        "timestamp": iso_ms(now),
        "path": path,
        "error": {
            "code": code or EXCEPTION_CLASS.get(status, "HttpException"),
            "message": message,
            "details": details,
        },
    }


def bare(status: int, message: str) -> dict[str, Any]:
    """Nest's BaseExceptionFilter body for a plain `{statusCode, message}` error."""
    return {"statusCode": status, "message": message}


def render_error(error: CalcomError, path: str, now: datetime, *, legacy: bool = False) -> dict[str, Any]:
    """The body Cal.com sends for `error`.

    `legacy` is the 2024-04-15 bookings controller: it rethrows the handler's error as
    `new HttpException(error.message, status)`, so the envelope code is `HttpException` and the
    message is Cal.com's internal ErrorCode string (e.g. `no_available_users_found_error`).
    """
    if legacy and error.reason:
        return envelope(error.status, error.reason, path, now, code="HttpException")
    if error.style == "bare":
        return bare(error.status, error.message)
    return envelope(error.status, error.message, path, now, code=error.code)
