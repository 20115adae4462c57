"""Reading the API's input: every field checked, every problem said in words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

PHONE = re.compile(r"^\+[1-9]\d{6,14}$")  # E.164, as Cal.com wants attendee phone numbers
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Invalid(ValueError):
    """Bad input: answered 400 with `error` and the message."""

    def __init__(self, message: str, error: str = "invalid_request",
                 **extra: Any) -> None:
        super().__init__(message)
        self.error = error
        self.extra = extra


def fields(body: Any, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    unknown = sorted(set(body) - required - optional)
    if unknown:
        raise Invalid(f"unknown field(s): {', '.join(unknown)}; "
                      f"known: {', '.join(sorted(required | optional))}")
    missing = sorted(k for k in required if body.get(k) in (None, ""))
    if missing:
        raise Invalid(f"missing field(s): {', '.join(missing)}")
    return body


def instant(value: Any, name: str = "start") -> datetime:
    """A UTC instant written with `Z` or an offset (a bare local time is ambiguous)."""
    example = "e.g. 2026-03-03T09:00:00Z"
    if not isinstance(value, str):
        raise Invalid(f"{name} must be an ISO 8601 string, {example}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name} {value!r} is not an ISO 8601 time, {example}") from None
    if moment.tzinfo is None:
        raise Invalid(f"{name} {value!r} has no time zone: write it in UTC, {example}")
    return moment.astimezone(UTC).replace(microsecond=0)


def day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"date {value!r} is not YYYY-MM-DD") from None


def window(query: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    """`date=YYYY-MM-DD` (that UTC day) or `from=…&to=…` (instants, `to` excluded), or None."""
    if "date" in query:
        if "from" in query or "to" in query:
            raise Invalid("give date, or from and to, not both")
        first = datetime.combine(day(query["date"]), time(), UTC)
        return first, first + timedelta(days=1)
    if "from" not in query and "to" not in query:
        return None
    if "from" not in query or "to" not in query:
        raise Invalid("give both from and to")
    first, after = instant(query["from"], "from"), instant(query["to"], "to")
    if after <= first:
        raise Invalid("to must be later than from")
    return first, after


def service(value: Any, services: Mapping[str, int]) -> tuple[str, int]:
    for name, event_type_id in services.items():
        if isinstance(value, str) and name.casefold() == value.strip().casefold():
            return name, event_type_id
    raise Invalid(f"unknown service {value!r}; this service books: {', '.join(services)}",
                  error="unknown_service", services=list(services))


def text(value: Any, name: str, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise Invalid(f"{name} must be a non-empty string of at most {limit} characters")
    return value.strip()


def phone(value: Any) -> str:
    cleaned = re.sub(r"[\s\-/()]", "", value) if isinstance(value, str) else ""
    if not PHONE.match(cleaned):
        raise Invalid(f"phone {value!r} must be an international number, e.g. +4930123456")
    return cleaned


def email(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not EMAIL.match(value.strip()):
        raise Invalid(f"email {value!r} is not an e-mail address")
    return value.strip()
