"""Keeping callers' phone numbers and e-mail addresses out of logs.

Code logs masked values (`mask_email`, `mask_phone`); `RedactingFilter` on the service's log
handler is the safety net for anything that slips through (an exception message quoting a
request body, say).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from aiohttp.http_exceptions import HttpProcessingError

# Plain, or URL-encoded as in an access log's query string (max%40example.com, %2B4915…).
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# International (+49…) or national (0…) numbers; spaces, dashes, slashes (and their URL forms).
_PHONE = re.compile(r"(?<![\w.])(?:\+|%2[Bb]|00|0)[1-9](?:[\d\s/\-+]|%20){4,}\d(?![\w.])")


def mask_email(email: str | None) -> str | None:
    """`termin@praxis-berlin.example` → `t***@praxis-berlin.example` (domain kept for support)."""
    if not email:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(phone: str | None) -> str | None:
    """`+491701234567` → `***67`."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    return f"***{digits[-2:]}" if len(digits) >= 2 else "***"


def redact(text: str) -> str:
    text = _EMAIL.sub(lambda m: mask_email(unquote(m.group(0))) or "***", text)
    return _PHONE.sub(_mask_phone_match, text)


def _mask_phone_match(match: re.Match[str]) -> str:
    found = match.group(0)
    # Fewer than 7 digits is a date or a time ("01-05 09"), not a phone number.
    return (mask_phone(found) or "***") if sum(c.isdigit() for c in found) >= 7 else found


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with e-mail addresses and phone numbers masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler
            return True
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


class RequestLineFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (an over-long URL, a bad header) with the parser's
    exception, whose message quotes the start of the request line, query string included: the
    access log leaves query strings out (`GET /api/customers?search=<phone>`), so this log must
    too. The record keeps the error's kind and status, one line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = f"{record.getMessage()}: {type(exc).__name__} (HTTP {exc.code})"
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


def withhold_request_lines() -> None:
    """Install `RequestLineFilter` on aiohttp's server logger (once per process)."""
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, RequestLineFilter) for f in server.filters):
        server.addFilter(RequestLineFilter())
